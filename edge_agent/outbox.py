"""Durable agent state in one SQLite file: the event outbox, the missions already taken, the
processed command ids, the nonces of signed messages already handled (replay protection; kept
until their ``valid_until`` has passed, after which the message is refused as expired anyway)
and the active mission's state snapshot.

An event is written here (with its envelope id and encoded payload) BEFORE anything tries to
send it, in the same transaction as the mission-state snapshot that produced it, so a crash can
neither lose an event nor emit it twice: after a restart the pending rows are re-sent with the
same envelope id, and the restored state machine will not produce the same logical event again.
A row is deleted only once the broker acknowledged it (PUBACK; aiomqtt 2.x's ``publish(qos=1)``
returns after paho's ``on_publish``, which for QoS 1 fires on PUBACK).

The calls are small synchronous transactions (WAL, synchronous=NORMAL: a commit costs well under a
millisecond), made from the event loop; events are rare (a few per delivery), telemetry never
comes here.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
);
CREATE TABLE IF NOT EXISTS missions (
    mission_id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS commands (command_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, digest TEXT NOT NULL, until REAL NOT NULL);
"""

_KEEP = object()


@dataclass(frozen=True)
class Pending:
    rowid: int
    id: str
    topic: str
    payload: bytes


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # ---- the one write path --------------------------------------------------------------
    def commit(
        self,
        events: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
        *,
        snapshot: Any = _KEEP,
        mission: tuple[str, str] | None = None,
        outcome: tuple[str, str] | None = None,
        command_id: str | None = None,
        nonce: tuple[str, str, float] | None = None,
    ) -> None:
        """Atomically: queue ``events`` (id, topic, payload), replace the active snapshot (a dict,
        or ``None`` to clear it), record a mission (id, digest) or its outcome, a command id, the
        nonce of the signed message handled (nonce, digest, valid_until as epoch seconds)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR IGNORE INTO events(id, topic, payload) VALUES (?, ?, ?)", list(events))
            if snapshot is not _KEEP:
                if snapshot is None:
                    db.execute("DELETE FROM kv WHERE k = 'active'")
                else:
                    db.execute("INSERT OR REPLACE INTO kv(k, v) VALUES ('active', ?)", (json.dumps(snapshot),))
            if mission is not None:
                db.execute("INSERT OR IGNORE INTO missions(mission_id, digest) VALUES (?, ?)", mission)
            if outcome is not None:
                db.execute("UPDATE missions SET outcome = ? WHERE mission_id = ?", (outcome[1], outcome[0]))
            if command_id is not None:
                db.execute("INSERT OR IGNORE INTO commands(command_id) VALUES (?)", (command_id,))
            if nonce is not None:
                db.execute("INSERT OR IGNORE INTO nonces(nonce, digest, until) VALUES (?, ?, ?)", nonce)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ---- reads ---------------------------------------------------------------------------
    def pending(self, limit: int = 100) -> list[Pending]:
        rows = self._db.execute("SELECT rowid, id, topic, payload FROM events ORDER BY rowid LIMIT ?", (limit,))
        return [Pending(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def pending_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM events").fetchone()[0]

    def ack(self, rowid: int) -> None:
        self._db.execute("DELETE FROM events WHERE rowid = ?", (rowid,))

    def mission_digest(self, mission_id: str) -> str | None:
        row = self._db.execute("SELECT digest FROM missions WHERE mission_id = ?", (mission_id,)).fetchone()
        return row[0] if row else None

    def mission_outcome(self, mission_id: str) -> str | None:
        row = self._db.execute("SELECT outcome FROM missions WHERE mission_id = ?", (mission_id,)).fetchone()
        return row[0] if row else None

    def command_seen(self, command_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM commands WHERE command_id = ?", (command_id,)).fetchone() is not None

    def nonce_digest(self, nonce: str) -> str | None:
        """The digest of the signed message already handled under ``nonce``, if any."""
        row = self._db.execute("SELECT digest FROM nonces WHERE nonce = ?", (nonce,)).fetchone()
        return row[0] if row else None

    def prune_nonces(self, before: float) -> int:
        """Forget nonces whose message stopped being valid before ``before`` (epoch seconds)."""
        return self._db.execute("DELETE FROM nonces WHERE until < ?", (before,)).rowcount

    def active_snapshot(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT v FROM kv WHERE k = 'active'").fetchone()
        return json.loads(row[0]) if row else None

    def next_seq(self, n: int = 1) -> int:
        """Reserve ``n`` envelope sequence numbers; returns the first."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT v FROM kv WHERE k = 'seq'").fetchone()
        first = int(row[0]) if row else 0
        db.execute("INSERT OR REPLACE INTO kv(k, v) VALUES ('seq', ?)", (str(first + n),))
        db.execute("COMMIT")
        return first
