"""How many live tracking streams may be open at once, per client address and in total: each
open stream holds a connection and reads the database about once a second, so one recipient's
page (or anyone holding many links) must not be able to exhaust the process. In memory, per
process, like the request rate limit (``rate_limit``). Pure bookkeeping, no I/O."""

from __future__ import annotations

from collections import Counter


class Slot:
    """One admitted stream; :meth:`release` gives its place back (idempotent: the stream's end
    and the response's clean-up may both call it)."""

    def __init__(self, slots: "StreamSlots", client: str) -> None:
        self._slots, self.client, self._held = slots, client, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._release(self.client)


class StreamSlots:
    def __init__(self, per_client: int, total: int) -> None:
        self.per_client, self.total = per_client, total
        self._open: Counter[str] = Counter()

    @property
    def open(self) -> int:
        return sum(self._open.values())

    def of(self, client: str) -> int:
        return self._open[client]

    def acquire(self, client: str) -> Slot | str:
        """A slot for one more stream of ``client``, or the reason there is none (the 429 body)."""
        if self._open[client] >= self.per_client:
            return (f"too many live tracking streams from this address (at most {self.per_client}); "
                    "close another tracking page or poll /status")
        if self.open >= self.total:
            return "too many live tracking streams on this server; poll /status or try again shortly"
        self._open[client] += 1
        return Slot(self, client)

    def _release(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]
