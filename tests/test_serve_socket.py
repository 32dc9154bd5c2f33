"""The socket `reprostack serve` listens on: its connections get TCP_NODELAY from asyncio.

asyncio disables Nagle only on sockets whose proto is TCP; a socket made with proto 0 never got
it, and every keep-alive response then waited ~40 ms for the client's delayed ACK between its
header and body segments (76 ms instead of 29 ms a one-text predict, 294 instead of 369 req/s
at 64 clients, bench_serve). Checked on the accepted socket, where the delay came from.
"""

import asyncio
import socket

from reprostack.cli.serve import bind


def test_connections_to_the_serve_socket_have_nagle_off():
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            accepted = transport.get_extra_info("socket")
            seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main():
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)  # as uvicorn serves it
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    asyncio.run(main())
    assert seen and seen[0] != 0, "the accepted connection has Nagle on"
