"""A WebSocket echo server written with Python `websockets`, a peer nobody here wrote.

Prints `PORT <n>` on stdout once listening. The path `/headers` first sends the
upgrade request's headers as one JSON text message, then echoes, so tests can see
exactly what reached the origin (and what did not, e.g. Proxy-Authorization).
"""
import argparse
import json
import ssl

from announce import run, serve_announced


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
    await serve_announced(handler, ssl=context)


if __name__ == "__main__":
    run(main)
