"""The base every wire model derives from, so the rules that keep a message storable hold for
every field at once, including fields added later:

* unknown fields refused, models immutable;
* no NaN or infinity (JSON has neither; pydantic would send them as ``null``);
* no string with a NUL character (PostgreSQL text cannot hold it) or a lone surrogate (not
  encodable as UTF-8, so no database, log or JSON peer can take it);
* timestamps are timezone-aware and representable in UTC (``9999-12-31T23:59-01:00`` is not:
  converting it overflows).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, field_validator


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_text(item)


_MAY_HOLD_TEXT = (str, list, tuple, set, frozenset)


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # nested models ran this on their own fields already; the type test first spares the
        # call for numbers, flags and timestamps (most fields, on the telemetry hot path)
        if isinstance(value, _MAY_HOLD_TEXT):
            _check_text(value)
        return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


#: An aware timestamp, normalised to UTC (so every receiver and database can hold it).
UtcTimestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]

#: The largest integer a signed 64-bit database column holds.
INT64_MAX = 2**63 - 1
