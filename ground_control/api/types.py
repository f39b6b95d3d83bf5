"""Constrained field types for request bodies: every string is bounded and free of NUL and
lone surrogates (PostgreSQL refuses both: they must become 422, not 500), every number is
finite and bounded, every datetime is aware and inside a sane range."""

from __future__ import annotations

import math
import re
from typing import Any
from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _clean_text(v: str) -> str:
    if "\x00" in v:
        raise ValueError("NUL characters are not allowed")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return v


def _clean_json(v: Any, depth: int = 0) -> Any:
    """Free-form JSON (GeoJSON properties...) is stored and echoed back: the same rules as text
    apply to every key and string in it, and nesting is bounded."""
    if depth > 32:
        raise ValueError("JSON nested too deeply")
    if isinstance(v, str):
        _clean_text(v)
    elif isinstance(v, dict):
        for k, x in v.items():
            _clean_text(str(k))
            _clean_json(x, depth + 1)
    elif isinstance(v, list):
        for x in v:
            _clean_json(x, depth + 1)
    elif isinstance(v, float) and not math.isfinite(v):
        raise ValueError("numbers must be finite")
    return v


def _sane_datetime(v: datetime) -> datetime:
    try:
        v = v.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise ValueError("datetime out of range") from None
    if not 1970 <= v.year <= 2200:
        raise ValueError("datetime must be between years 1970 and 2200")
    return v


SafeJsonObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)]
Name = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True), AfterValidator(_clean_text)]
ShortText = Annotated[str, StringConstraints(max_length=500), AfterValidator(_clean_text)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_clean_text)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_sane_datetime)]

PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()./-]{3,30}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def _phone(v: str) -> str:
    v = v.strip()
    if not PHONE_RE.match(v) or sum(c.isdigit() for c in v) < 5:
        raise ValueError("phone must be digits with optional leading + and separators, at least 5 digits")
    return v


def _email(v: str) -> str:
    v = v.strip()
    if len(v) > 254 or not EMAIL_RE.match(v) or len(v.split("@")[0]) > 64:
        raise ValueError("not a valid email address")
    return v


Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(_phone)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
