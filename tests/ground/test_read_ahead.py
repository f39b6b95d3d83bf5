"""paho's small reads served from one socket read, without ever stalling on buffered bytes or
letting the reader run ahead of the consumer (at most one socket read per loop turn)."""

from __future__ import annotations

import asyncio

import pytest

from ground_control.mqtt.read_ahead import ReadAhead


class FakeSocket:
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.reads = 0
        self.closed = False

    def recv(self, n: int) -> bytes:
        self.reads += 1
        if not self.chunks:
            raise BlockingIOError
        data, rest = self.chunks[0][:n], self.chunks[0][n:]
        self.chunks[0:1] = [rest] if rest else []
        return data

    def close(self) -> None:
        self.closed = True


async def test_small_reads_come_from_one_socket_read_and_pending_tells_what_is_left():
    sock = FakeSocket(b"\x30\x05hello\x30\x03abc")
    ra = ReadAhead(sock, asyncio.get_running_loop())
    assert ra.recv(1) == b"\x30" and ra.recv(1) == b"\x05" and ra.recv(5) == b"hello"
    assert ra.pending() == 5                          # a whole packet still buffered
    assert ra.recv(1) == b"\x30" and ra.recv(1) == b"\x03" and ra.recv(5) == b"abc"   # short read, like a socket
    assert sock.reads == 1 and ra.pending() == 0
    ra.close()                                        # everything else goes to the socket
    assert sock.closed


async def test_one_socket_read_per_loop_turn_then_the_socket_wakes_the_reader_again():
    sock = FakeSocket(b"ab", b"cd")
    ra = ReadAhead(sock, asyncio.get_running_loop(), chunk=2)
    assert ra.recv(2) == b"ab"
    with pytest.raises(BlockingIOError):             # paho: "the rest later"; bytes stay in the kernel
        ra.recv(2)
    assert sock.chunks == [b"cd"]
    await asyncio.sleep(0)                            # the next loop turn
    assert ra.recv(2) == b"cd"


async def test_end_of_stream_and_errors_surface_as_the_socket_gives_them():
    ra = ReadAhead(FakeSocket(b""), asyncio.get_running_loop())
    assert ra.recv(1) == b""
    with pytest.raises(BlockingIOError):
        ReadAhead(FakeSocket(), asyncio.get_running_loop()).recv(1)
