"""A WebSocket echo server written with Python `websockets`, a peer nobody here wrote.

Prints `PORT <n>` on stdout once listening. The path `/headers` first sends the
upgrade request's headers as one JSON text message, then echoes, so tests can see
exactly what reached the origin (and what did not, e.g. Proxy-Authorization).
"""
import argparse
import asyncio
import json
import ssl
import sys

from websockets.asyncio.server import serve


async def handler(ws):
    if ws.request.path == "/headers":
        await ws.send(json.dumps({k.lower(): v for k, v in ws.request.headers.raw_items()}))
    async for message in ws:
        await ws.send(message)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
    async with serve(handler, "127.0.0.1", 0, ssl=context, max_size=16 * 1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
