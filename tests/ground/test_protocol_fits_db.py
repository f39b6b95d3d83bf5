"""Every value the protocol accepts fits the database: hypothesis builds extreme but *valid*
events and telemetry straight from the protocol models' own field constraints (longest strings,
non-ASCII and astral characters, largest integers, extreme floats and timestamps) and pushes them
through ingest into SQLite and PostgreSQL. None may fail as a database error; were one to, the
protocol lets through something a column cannot hold (the fix is a tighter protocol bound)."""

from __future__ import annotations

import asyncio
import enum
import types
import typing
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from fleet_protocol import Telemetry, encode, topics
from fleet_protocol.envelope import BODY_MODELS, Envelope
from ground_control.db.migrate import upgrade
from ground_control.db.models import DeadLetter, Event, TelemetryLatest
from ground_control.db.session import make_engine, make_sessionmaker
from ground_control.ingest.service import EventRefused, Ingest
from ground_control.settings import Settings

# awkward characters (astral, BOM, zero-width, quotes, NUL, a lone surrogate) and any at all:
# the protocol models decide what is valid (a refused example is dropped), not this test
AWKWARD = st.sampled_from("é€😀𝄞\U0010fffd\u200b\ufeff'\"\\%_\x00\ud800")
LIST_CAP = 3   # list constraints allow thousands; three elements exercise the same columns


def _constraints(metadata: list[object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for m in metadata:
        for key in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            value = getattr(m, key, None)
            if value is not None:
                out[key] = value
    return out


def _ints(c: dict[str, object]) -> st.SearchStrategy[int]:
    lo = c.get("ge", c["gt"] + 1 if "gt" in c else -(2**80))
    hi = c.get("le", c["lt"] - 1 if "lt" in c else 2**80)
    return st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))


def _floats(c: dict[str, object]) -> st.SearchStrategy[float]:
    lo, hi = c.get("ge", c.get("gt")), c.get("le", c.get("lt"))
    candidates = [v for v in (lo, hi, 1e308, -1e308, 5e-324, 0.0) if v is not None]
    edges = [float(v) for v in candidates if (lo is None or v >= lo) and (hi is None or v <= hi)
             and not ("gt" in c and v == lo) and not ("lt" in c and v == hi)]
    return st.one_of(st.sampled_from(edges), st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                                                       exclude_min="gt" in c, exclude_max="lt" in c))


def _strings(c: dict[str, object]) -> st.SearchStrategy[str]:
    lo, hi = int(c.get("min_length", 0)), c.get("max_length")
    if "pattern" in c:
        s = st.from_regex(str(c["pattern"]), fullmatch=True)
        longest = st.just("a" + "Z" * (int(hi) - 1)) if hi else st.nothing()
        return st.one_of(longest, s).filter(lambda v: lo <= len(v) <= (hi or 10**9))
    hi = int(hi) if hi is not None else 3000   # unbounded: longer than any bounded column
    awkward = st.text(AWKWARD, min_size=max(lo, 1), max_size=hi)
    return st.one_of(st.text(st.just("😀"), min_size=hi, max_size=hi), awkward, awkward,
                     st.text(st.characters(), min_size=lo, max_size=hi))


def _datetimes() -> st.SearchStrategy[datetime]:
    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
    extreme = st.sampled_from([datetime(1, 1, 2, tzinfo=timezone.utc), datetime(9999, 12, 30, tzinfo=timezone.utc)])
    return st.one_of(extreme, st.datetimes(timezones=offsets))


def for_type(tp: object, metadata: list[object]) -> st.SearchStrategy[object]:
    """A strategy for one annotated field type, honouring its pydantic/annotated-types bounds."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        inner = args[0]
        extra = [m for a in args[1:] for m in (getattr(a, "metadata", None) or [a])]
        return for_type(inner, metadata + extra)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([for_type(a, metadata) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    c = _constraints(metadata)
    if origin is list:
        hi = min(int(c.get("max_length", LIST_CAP)), LIST_CAP)
        return st.lists(for_type(args[0], []), min_size=int(c.get("min_length", 0)), max_size=hi)
    if tp is type(None):
        return st.none()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return _ints(c)
    if tp is float:
        return _floats(c)
    if tp is str:
        return _strings(c)
    if tp is uuid.UUID:
        return st.uuids()
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return model_dicts(tp)
    if tp is datetime or getattr(tp, "__name__", "") == "AwareDatetime" or "datetime" in repr(tp).lower():
        return _datetimes()
    raise NotImplementedError(f"no strategy for {tp!r}")


def model_dicts(model: type[BaseModel]) -> st.SearchStrategy[dict[str, object]]:
    fields = {name: for_type(f.annotation, list(f.metadata)) for name, f in model.model_fields.items()}
    return st.fixed_dictionaries(fields)


def event_models() -> list[type[BaseModel]]:
    union = typing.get_args(BODY_MODELS["event"])[0]
    return list(typing.get_args(union))


def envelopes(kind: str, bodies: st.SearchStrategy[dict[str, object]]) -> st.SearchStrategy[Envelope]:
    def build(body: dict[str, object], seq: int, ts: datetime, vid: str) -> Envelope | None:
        try:
            return Envelope[BODY_MODELS[kind]].model_validate(  # type: ignore[index]
                {"type": kind, "vehicle_id": vid, "seq": seq, "ts": ts, "body": body})
        except ValidationError:
            return None
    env_fields = Envelope.model_fields
    return st.builds(build, bodies, for_type(env_fields["seq"].annotation, list(env_fields["seq"].metadata)),
                     _datetimes(), for_type(env_fields["vehicle_id"].annotation, list(env_fields["vehicle_id"].metadata)))


MESSAGES = st.one_of(   # half telemetry, half events of every kind
    envelopes("telemetry", model_dicts(Telemetry)),
    st.one_of(*[envelopes("event", model_dicts(m)) for m in event_models()]),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(batch=st.lists(MESSAGES, min_size=1, max_size=4))
def test_every_valid_message_fits_the_database(db_url, batch):
    batch = [e for e in batch if e is not None]
    assume(batch)

    async def push() -> None:
        engine = make_engine(db_url)
        try:
            ingest = Ingest(Settings(database_url=db_url), make_sessionmaker(engine))
            refused = set()
            for env in batch:
                # process() raises what the database says, where handle() would dead-letter it
                try:
                    await ingest.process(topics.vehicle_topic(env.vehicle_id, env.type), encode(env))
                except EventRefused:
                    # a delivered for a parcel on no mission of the sender is refused before storing
                    assert env.body.kind == "delivered"
                    refused.add(env.id)
            await ingest.telemetry.flush()
            assert ingest.counts["dead_letter"] == 0
            async with ingest.sessionmaker() as s:
                for env in batch:
                    if env.id in refused:
                        continue
                    if env.type == "event":
                        row = await s.get(Event, str(env.id))
                        assert row is not None and row.seq == env.seq
                    else:
                        assert await s.get(TelemetryLatest, env.vehicle_id) is not None
                assert await s.scalar(select(func.count()).select_from(DeadLetter)) == 0
        finally:
            await engine.dispose()

    asyncio.run(push())


@pytest.fixture(autouse=True)
def _migrated(db_url):
    upgrade(db_url)
