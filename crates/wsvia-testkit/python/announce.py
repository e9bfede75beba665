"""What every test server here does: listen on loopback on a port the OS picks, print
`PORT <n>` once listening (the testkit reads that line), and serve until stopped."""
import asyncio
import sys

from websockets.asyncio.server import serve


async def serve_announced(handler, **options):
    """Serve `handler` on 127.0.0.1 with messages up to 16 MiB; print the port."""
    async with serve(handler, "127.0.0.1", 0, max_size=16 * 1024 * 1024, **options) as server:
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()


def run(main):
    """Run `main()` until the test stops the process."""
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
