"""A Python `websockets` client that offers permessage-deflate and checks echoes.

    deflate_client.py URL [--server-no-context-takeover] [--client-no-context-takeover]
                          [--server-max-window-bits N] [--client-max-window-bits N]
                          [--messages N]

Prints `extensions <value>`: the server's `Sec-WebSocket-Extensions` answer (`none`
without one). Then sends text and binary messages, compressible and not, small and
large, some repeating at long distances (N rounds of 6, default 3), and checks each
echo byte for byte; prints `ok <count>` and `compressed C of T` (of the T data frames
received, C had RSV1 set), and closes with 1000; or prints `error: ...` and exits 1.
"""
import argparse
import os
import sys

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

from frame_counts import count_frames


def messages(rounds):
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(4000))
    for n in range(rounds):
        yield f"hello {n}"
        yield ""
        yield text[n:] + "é€😀"
        yield bytes(range(256)) * 300
        yield os.urandom(70_000)  # incompressible
        # Repeats 3000 bytes back: a window smaller than agreed would be caught.
        yield os.urandom(1500).hex() * 12


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--server-no-context-takeover", action="store_true")
    parser.add_argument("--client-no-context-takeover", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int)
    parser.add_argument("--client-max-window-bits", type=int, default=True)
    parser.add_argument("--messages", type=int, default=3)
    args = parser.parse_args()
    factory = ClientPerMessageDeflateFactory(
        server_no_context_takeover=args.server_no_context_takeover,
        client_no_context_takeover=args.client_no_context_takeover,
        server_max_window_bits=args.server_max_window_bits,
        client_max_window_bits=args.client_max_window_bits,
    )
    try:
        ws = connect(
            args.url,
            open_timeout=10,
            ping_interval=None,
            proxy=None,
            compression=None,
            extensions=[factory],
            max_size=16 * 1024 * 1024,
        )
    except Exception as error:
        print(f"error: {type(error).__name__}: {error}", flush=True)
        sys.exit(1)
    counts = count_frames(ws)
    with ws:
        print(f"extensions {ws.response.headers.get('Sec-WebSocket-Extensions', 'none')}", flush=True)
        count = 0
        try:
            for message in messages(args.messages):
                ws.send(message)
                echo = ws.recv(timeout=10)
                if echo != message:
                    print(f"error: message {count} came back different ({len(echo)} of {len(message)})", flush=True)
                    sys.exit(1)
                count += 1
        except Exception as error:
            print(f"error: after {count} messages: {type(error).__name__}: {error}", flush=True)
            sys.exit(1)
        print(f"ok {count}", flush=True)
        print(f"compressed {counts['compressed']} of {counts['total']}", flush=True)


if __name__ == "__main__":
    main()
