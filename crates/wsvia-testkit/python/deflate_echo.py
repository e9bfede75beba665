"""A Python `websockets` echo server whose permessage-deflate settings tests choose.

    deflate_echo.py [--no-compress] [--server-no-context-takeover]
                    [--client-no-context-takeover] [--server-max-window-bits N]
                    [--client-max-window-bits N]

Prints `PORT <n>` on stdout once listening. The path `/extensions` first sends, as one
text message, the `Sec-WebSocket-Extensions` value of its answer (`none` without one),
then echoes; any other path only echoes. The text message `compressed?` is answered,
not echoed, with `compressed N of M`: how many of the M data frames received so far had
RSV1 set (were compressed). Without options it accepts permessage-deflate as
`websockets` does by default (server_max_window_bits=12, client_max_window_bits=12).
"""
import argparse

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from announce import run, serve_announced
from frame_counts import count_frames


async def handler(ws):
    counts = count_frames(ws)
    if ws.request.path == "/extensions":
        await ws.send(ws.response.headers.get("Sec-WebSocket-Extensions", "none"))
    async for message in ws:
        if message == "compressed?":
            await ws.send(f"compressed {counts['compressed']} of {counts['total']}")
        else:
            await ws.send(message)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-compress", action="store_true")
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int)
    parser.add_argument("--client-max-window-bits", type=int)
    args = parser.parse_args()
    tuned = (args.server_no_context_takeover or args.client_no_context_takeover
             or args.server_max_window_bits or args.client_max_window_bits)
    if args.no_compress:
        options = {"compression": None}
    elif not tuned:
        options = {"compression": "deflate"}
    else:
        factory = ServerPerMessageDeflateFactory(
            server_no_context_takeover=args.server_no_context_takeover,
            client_no_context_takeover=args.client_no_context_takeover,
            server_max_window_bits=args.server_max_window_bits,
            client_max_window_bits=args.client_max_window_bits,
        )
        options = {"compression": None, "extensions": [factory]}
    await serve_announced(handler, **options)


if __name__ == "__main__":
    run(main)
