"""Value types shared by offers, demands and matches: places, weekly slots, contacts."""

import re
from datetime import time
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

_CRLF = re.compile(r"[\r\n]+")


def _single_line(value: str) -> str:
    """User text that may end up in mail headers never carries CR or LF."""
    return _CRLF.sub(" ", value).strip()


# For bounded one-line texts: Annotated[str, StringConstraints(...), FLATTENED]. The length is
# checked on the trimmed text first (so the error reads "at least 3 characters"), then any
# CR/LF is flattened.
FLATTENED = AfterValidator(_single_line)


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
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Point(StrictModel):
    """Coordinates without an address (what the public demand topic carries)."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Contact(StrictModel):
    """Who to write to. Personal data: only on welfare.contacts.v1, never on public topics."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), FLATTENED
    ]
    email: EmailStr
    language: Annotated[str, Field(pattern=r"^(it|en)$")] = "it"
