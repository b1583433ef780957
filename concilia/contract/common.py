"""Value types shared by offers, demands and matches: places, weekly slots, contacts."""

import re
from datetime import time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

# Every kind of line break a pasted text may hold: CR, LF, TAB, VT (Word's soft line break),
# FF, the file/group/record separators, NEL, LINE and PARAGRAPH SEPARATOR.
_LINE_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
# Never meaningful in a name or title and harmful in a mail header or a terminal: the other
# C0/C1 controls (NUL, ESC, DEL...) and the bidirectional marks and overrides.
_FORBIDDEN = re.compile(
    r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_FORBIDDEN_MESSAGE = "control characters and bidirectional overrides are not allowed"


def _single_line(value: str) -> str:
    """User text that may end up in mail headers: line breaks of any kind become one space
    (a pasted soft line break is not an error); other controls and bidi overrides are refused."""
    if _FORBIDDEN.search(value):
        raise ValueError(_FORBIDDEN_MESSAGE)
    return _LINE_BREAKS.sub(" ", value).strip()


def _multi_line(value: str) -> str:
    """Text of several lines: any line break becomes LF; other controls are refused."""
    if _FORBIDDEN.search(value):
        raise ValueError(_FORBIDDEN_MESSAGE)
    return re.sub(r"\r\n|[\r\v\f\x1c-\x1e\x85\u2028\u2029]", "\n", value)


def _deliverable(address: str) -> str:
    """An address the notifier can deliver without SMTPUTF8: ASCII before the @, the domain
    in its IDNA (punycode) form."""
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise ValueError(
            "the part before @ must be ASCII: internationalised mailboxes need SMTPUTF8 on "
            "every mail server on the way, which Concilia cannot promise"
        )
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as exc:
        raise ValueError("the domain cannot be written in ASCII (IDNA)") from exc


# For bounded one-line texts: Annotated[str, StringConstraints(...), FLATTENED]. The length is
# checked on the trimmed text first (so the error reads "at least 3 characters"), then line
# breaks are flattened and controls refused.
FLATTENED = AfterValidator(_single_line)
MULTI_LINE = AfterValidator(_multi_line)
# JSON numbers and booleans as such: `"capacity": true` or `"price_eur": "1.5"` is an error.
STRICT = Strict()
Email = Annotated[EmailStr, AfterValidator(_deliverable)]


def _not_null(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent() -> Any:
    """The default of a PATCH field that may be left out but never set to null: the schema
    shows no null (and no default), so a null is a 422 as documented."""
    return Field(default=None, json_schema_extra=_not_null)


LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code")]


class StrictModel(BaseModel):
    """Unknown fields are an error at every boundary we receive data on."""

    model_config = ConfigDict(extra="forbid")


class Day(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class WeeklySlot(StrictModel):
    """A weekly time window, Europe/Rome local time, e.g. mon 16:30–18:30."""

    day: Day
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["08:30"])]
    end: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", examples=["16:30"])]

    @model_validator(mode="after")
    def _ends_after_start(self) -> "WeeklySlot":
        if self.end_minute <= self.start_minute:
            raise ValueError("end must be after start")
        return self

    @property
    def start_minute(self) -> int:
        return _minute(self.start)

    @property
    def end_minute(self) -> int:
        return _minute(self.end)


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def parse_hhmm(hhmm: str) -> time:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return time(23, 59) if hours == 24 else time(hours, minutes)


class Location(StrictModel):
    """A street address with WGS84 coordinates."""

    address: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200), FLATTENED
    ]
    lat: Annotated[float, STRICT, Field(ge=-90, le=90)]
    lon: Annotated[float, STRICT, Field(ge=-180, le=180)]


class Point(StrictModel):
    """Coordinates without an address (what the public demand topic carries)."""

    lat: Annotated[float, STRICT, Field(ge=-90, le=90)]
    lon: Annotated[float, STRICT, Field(ge=-180, le=180)]


class Contact(StrictModel):
    """Who to write to. Personal data: only on welfare.contacts.v1, never on public topics."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), FLATTENED
    ]
    email: Email
    language: Annotated[str, Field(pattern=r"^(it|en)$")] = "it"
