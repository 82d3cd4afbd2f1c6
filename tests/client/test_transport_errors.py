"""A broken TCP connection, as the client reports it, on real loopback sockets.

The client talks to a plain TCP connection through its trio socket (not
through ``trio.SocketStream``), so it translates socket errors itself. These
tests pin the result to what going through the stream gives: the same error
class, message, phase and chain of causes (``ProtocolError`` from
``trio.BrokenResourceError`` from the ``OSError``), whether the connection
breaks before the response, in the middle of the body, or while sending.
"""

from __future__ import annotations

import socket
import struct

import trio

import trio_webkit

from support.loopback import HOST, fail_after

RESET = "socket connection broken: [Errno 104] Connection reset by peer"


async def resetting_server(
    answer: bytes, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Each connection: read a request head, send ``answer``, then reset (RST, no FIN)."""
    listener = trio.socket.socket()
    with listener:
        await listener.bind((HOST, 0))
        listener.listen()
        task_status.started(listener.getsockname()[1])
        while True:
            sock, _ = await listener.accept()
            with sock:
                received = b""
                while b"\r\n\r\n" not in received:
                    received += await sock.recv(65536)
                if answer:
                    await sock.send(answer)
                    await trio.sleep(0.05)  # let it arrive before the reset
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def assert_reset_chain(error: BaseException) -> None:
    cause = error.__cause__
    assert isinstance(cause, trio.BrokenResourceError)
    assert str(cause) == RESET
    assert isinstance(cause.__cause__, ConnectionResetError)


@fail_after(10)
async def test_a_reset_mid_body_is_an_incomplete_body_with_the_socket_error_as_cause(
    nursery: trio.Nursery,
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    port = await nursery.start(resetting_server, head + b"x" * 1000)
    async with trio_webkit.Client() as client:
        try:
            await client.get(f"http://{HOST}:{port}/")
        except trio_webkit.IncompleteBody as error:
            assert error.phase == "read"
            assert str(error).endswith(
                "the response body was cut short after 1000 of 100000 bytes: "
                f"the connection broke: {RESET}"
            )
            assert_reset_chain(error)
        else:
            raise AssertionError("a body cut short must not be a success")
        assert client.statistics().connections_active == 0


@fail_after(10)
async def test_a_reset_before_the_response_names_the_socket_error(
    nursery: trio.Nursery,
) -> None:
    port = await nursery.start(resetting_server, b"")
    async with trio_webkit.Client() as client:
        try:
            await client.post(f"http://{HOST}:{port}/", body=b"not idempotent: no retry")
        except trio_webkit.ProtocolError as error:
            assert error.phase == "read"
            assert str(error).endswith(f"no response: the connection broke: {RESET}")
            assert_reset_chain(error)
        else:
            raise AssertionError("a reset connection must not give a response")


@fail_after(10)
async def test_a_reset_while_sending_is_a_write_phase_error(nursery: trio.Nursery) -> None:
    port = await nursery.start(resetting_server, b"")
    async with trio_webkit.Client() as client:
        try:
            # Far more than the socket buffers hold: the send is still going on.
            await client.post(f"http://{HOST}:{port}/", body=b"y" * (32 << 20))
        except trio_webkit.ProtocolError as error:
            assert error.phase == "write"
            assert "the connection broke: socket connection broken: [Errno" in str(error)
            assert isinstance(error.__cause__, trio.BrokenResourceError)
            assert isinstance(error.__cause__.__cause__, OSError)
        else:
            raise AssertionError("a reset connection must not give a response")
        assert client.statistics().connections_active == 0
