"""A read-ahead buffer between paho and its socket.

paho reads every packet in three or four ``recv`` calls (the command byte, the length bytes
one at a time, the rest), and aiomqtt reads one packet per socket wake-up: at telemetry rates
those syscalls and loop turns cost as much as handling the message. :class:`ReadAhead` fetches
up to :data:`CHUNK` bytes per ``recv`` and serves paho's small reads from memory; its
``pending()`` (the method aiomqtt already asks TLS sockets) tells aiomqtt's reader that packets
are still buffered, so it keeps reading them in the same turn: the socket would not wake it up
for bytes that already left the kernel.

At most one chunk is taken from the socket per event-loop turn. After that, ``recv`` answers
as a drained non-blocking socket would (``BlockingIOError``, which paho treats as "read the rest
later") and the reader returns; the socket, still readable, wakes it again next turn. So
received messages cannot pile up in memory faster than the consumer takes them (it takes up to
``DRAIN_BATCH`` per turn, more than a chunk holds); a consumer that falls behind leaves the
bytes in the kernel and the broker applies its own limits, as before."""

from __future__ import annotations

import asyncio
from typing import Any

#: bytes read per ``recv``: about 50 telemetry messages; a chunk of the smallest possible
#: vehicle messages (~35 bytes) still holds fewer than the link's DRAIN_BATCH
CHUNK = 16384


class ReadAhead:
    """Wraps a connected socket (plain, TLS or paho's WebSocket wrapper); everything but
    ``recv`` and ``pending`` goes to it unchanged. Errors (``BlockingIOError``, TLS want-read)
    and end of stream (``b""``) surface as the socket gives them, once the buffer is empty."""

    def __init__(self, sock: Any, loop: asyncio.AbstractEventLoop, chunk: int = CHUNK) -> None:
        self._sock = sock
        self._loop = loop
        self._chunk = chunk
        self._buf = b""
        self._pos = 0
        self._read_this_turn = False

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            if self._read_this_turn and not self._inner_pending():
                raise BlockingIOError("read ahead: one chunk per loop turn")
            data = self._sock.recv(max(bufsize, self._chunk))
            self._read_this_turn = True
            # paho may read from its connect thread: reset thread-safely, on the next turn
            self._loop.call_soon_threadsafe(self._next_turn)
            if len(data) <= bufsize:
                return data
            self._buf, self._pos = data, 0
        out = self._buf[self._pos:self._pos + bufsize]
        self._pos += len(out)
        return out

    def _next_turn(self) -> None:
        self._read_this_turn = False

    def _inner_pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return inner() if inner is not None else 0

    def pending(self) -> int:
        return len(self._buf) - self._pos + self._inner_pending()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
