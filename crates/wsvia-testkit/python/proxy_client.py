"""A WebSocket client going through an HTTP proxy, with a library nobody here wrote.

    proxy_client.py --lib websockets|websocket-client --proxy-host H --proxy-port P
                    [--user U --password PW] [--cafile CA.pem] URL MESSAGE...

`websockets` (>= 15) gets the proxy as a URL, `proxy="http://U:PW@H:P"`; `websocket-client`
gets `http_proxy_host`, `http_proxy_port`, `proxy_type="http"`, `http_proxy_auth=(U, PW)`.
Both open the tunnel with CONNECT.

Sends each MESSAGE as a text message and prints each echo on its own line, then closes
and exits 0. On any failure prints `error: <library's exception> ...` to stdout (with the
proxy's status code when the proxy refused, e.g. `proxy status 407`) and exits 1.
"""
import argparse
import ssl
import sys
from urllib.parse import quote


def ssl_context(cafile):
    if not cafile:
        return None
    return ssl.create_default_context(cafile=cafile)


def run_websockets(args):
    from websockets.sync.client import connect

    auth = ""
    if args.user is not None:
        auth = f"{quote(args.user, safe='')}:{quote(args.password or '', safe='')}@"
    proxy = f"http://{auth}{args.proxy_host}:{args.proxy_port}"
    options = {"proxy": proxy, "open_timeout": 10}
    if args.url.startswith("wss:"):
        options["ssl"] = ssl_context(args.cafile)
    with connect(args.url, **options) as ws:
        for message in args.messages:
            ws.send(message)
            print(ws.recv(timeout=10), flush=True)


def run_websocket_client(args):
    import websocket

    options = {
        "http_proxy_host": args.proxy_host,
        "http_proxy_port": args.proxy_port,
        "proxy_type": "http",
        "timeout": 10,
    }
    if args.user is not None:
        options["http_proxy_auth"] = (args.user, args.password or "")
    if args.cafile:
        options["sslopt"] = {"ca_certs": args.cafile, "cert_reqs": ssl.CERT_REQUIRED}
    ws = websocket.create_connection(args.url, **options)
    try:
        for message in args.messages:
            ws.send(message)
            print(ws.recv(), flush=True)
    finally:
        ws.close()


def proxy_status(error):
    """The proxy's HTTP status code carried by either library's exception, if any."""
    response = getattr(error, "response", None)  # websockets.InvalidProxyStatus
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(error, "status_code", None)
    if status is None:  # websocket-client: "failed CONNECT via proxy status: 407"
        text = str(error)
        if "status:" in text:
            status = text.rsplit("status:", 1)[1].strip().split()[0]
    return status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", choices=["websockets", "websocket-client"], required=True)
    parser.add_argument("--proxy-host", required=True)
    parser.add_argument("--proxy-port", type=int, required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--cafile")
    parser.add_argument("url")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_args()
    run = run_websockets if args.lib == "websockets" else run_websocket_client
    try:
        run(args)
    except Exception as error:  # report every failure the same way, exit 1
        status = proxy_status(error)
        suffix = f" (proxy status {status})" if status is not None else ""
        print(f"error: {type(error).__name__}: {error}{suffix}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
