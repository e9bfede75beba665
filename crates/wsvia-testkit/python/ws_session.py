"""A WebSocket client session a test drives line by line, written with Python `websockets`.

    ws_session.py URL

Connects (no proxy, no client pings: an idle session stays silent, though the library
still answers the server's pings) and prints `open`, or `error: ...` and exits 1.
Then reads commands from stdin, one per line, and prints one line for each:

    send TEXT     sends TEXT as a text message                   -> `sent`
    recv SECS     waits up to SECS for a message                 -> `message TEXT`,
                                                                    `timeout`, or
                                                                    `closed CODE REASON`
    close         closes with 1000 and waits for the handshake    -> `closed CODE REASON`

`closed CODE REASON` gives the Close frame the server sent; `closed none` means the
connection ended without one (what RFC 6455 calls 1006, abnormal closure).
"""
import sys

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def closed(rcvd):
    """`closed CODE REASON` for the Close frame received (`None`: there was none)."""
    if rcvd is None:
        return "closed none"
    return f"closed {rcvd.code} {rcvd.reason}".rstrip()


def main():
    url = sys.argv[1]
    try:
        ws = connect(url, open_timeout=10, ping_interval=None, proxy=None)
    except Exception as error:  # report every failure the same way, exit 1
        print(f"error: {type(error).__name__}: {error}", flush=True)
        sys.exit(1)
    with ws:
        print("open", flush=True)
        session(ws)


def session(ws):
    for line in sys.stdin:
        command, _, arg = line.rstrip("\n").partition(" ")
        try:
            if command == "send":
                ws.send(arg)
                print("sent", flush=True)
            elif command == "recv":
                try:
                    print(f"message {ws.recv(timeout=float(arg))}", flush=True)
                except TimeoutError:
                    print("timeout", flush=True)
            elif command == "close":
                ws.close()
                print(closed(ws.protocol.close_rcvd), flush=True)
            else:
                print(f"error: unknown command {command!r}", flush=True)
        except ConnectionClosed as error:
            print(closed(error.rcvd), flush=True)


if __name__ == "__main__":
    main()
