"""Numbers, hours, prices, dates and service types in plain Italian or English words,
for everything families and providers read: the e-mails and the one-click answer pages."""

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from concilia.contract.common import Day, WeeklySlot
from concilia.contract.taxonomy import ServiceType

LANGUAGES = ("it", "en")
_CRLF = re.compile(r"[\r\n\x00]+")
_ITALIAN_MARKS = str.maketrans(",.", ".,")  # thousands and decimal marks swapped

DAY_NAMES: dict[str, dict[Day, str]] = {
    "it": {
        Day.MON: "lunedì",
        Day.TUE: "martedì",
        Day.WED: "mercoledì",
        Day.THU: "giovedì",
        Day.FRI: "venerdì",
        Day.SAT: "sabato",
        Day.SUN: "domenica",
    },
    "en": {
        Day.MON: "Monday",
        Day.TUE: "Tuesday",
        Day.WED: "Wednesday",
        Day.THU: "Thursday",
        Day.FRI: "Friday",
        Day.SAT: "Saturday",
        Day.SUN: "Sunday",
    },
}
_DAY_ORDER = list(Day)

SERVICE_LABELS: dict[ServiceType, tuple[str, str]] = {
    ServiceType.CHILDCARE: ("Asilo e nido", "Childcare"),
    ServiceType.AFTER_SCHOOL: ("Doposcuola", "After-school care"),
    ServiceType.SUMMER_CAMP: ("Centro estivo", "Summer camp"),
    ServiceType.BABYSITTING: ("Babysitting", "Babysitting"),
    ServiceType.ELDERLY_CARE: ("Assistenza anziani", "Elderly care"),
    ServiceType.DISABILITY_SUPPORT: ("Sostegno alla disabilità", "Disability support"),
    ServiceType.HEALTH_SCREENING: ("Screening e prevenzione", "Health screening"),
    ServiceType.PSYCHOLOGICAL_SUPPORT: ("Supporto psicologico", "Psychological support"),
    ServiceType.PHYSIOTHERAPY: ("Fisioterapia", "Physiotherapy"),
    ServiceType.HOME_NURSING: ("Assistenza infermieristica a domicilio", "Home nursing"),
    ServiceType.NUTRITION: ("Consulenza nutrizionale", "Nutrition advice"),
    ServiceType.SPORT: ("Sport", "Sport"),
    ServiceType.CULTURE: ("Cultura", "Culture"),
    ServiceType.COURSES: ("Corsi", "Courses"),
    ServiceType.SOCIAL_ACTIVITIES: ("Attività sociali", "Social activities"),
    ServiceType.COWORKING: ("Coworking", "Coworking"),
    ServiceType.SMART_WORKING_ADVICE: ("Consulenza sullo smart working", "Smart-working advice"),
    ServiceType.TRAINING: ("Formazione", "Training"),
    ServiceType.MOBILITY: ("Mobilità", "Mobility"),
    ServiceType.ERRANDS: ("Commissioni e servizi salvatempo", "Errands"),
    ServiceType.LEGAL_TAX_ADVICE: ("Consulenza legale e fiscale", "Legal and tax advice"),
}

LANGUAGE_NAMES: dict[str, dict[str, str]] = {
    "it": {"it": "italiano", "en": "inglese", "fr": "francese", "es": "spagnolo", "ar": "arabo"},
    "en": {"it": "Italian", "en": "English", "fr": "French", "es": "Spanish", "ar": "Arabic"},
}

_PER_UNIT = {
    "it": {"month": "al mese", "session": "a incontro", "hour": "all'ora"},
    "en": {"month": "per month", "session": "per session", "hour": "per hour"},
}


def language_of(code: str | None) -> str:
    """The mail language for a contact: `it` or `en`, Italian when unknown."""
    return code if code in LANGUAGES else "it"


def single_line(text: str) -> str:
    """User text safe for a mail header: CR, LF and NUL become spaces, ends trimmed."""
    return _CRLF.sub(" ", text).strip()


def number(value: float, lang: str, decimals: int = 1) -> str:
    """`1.250,5` in Italian, `1,250.5` in English; whole numbers without decimals."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{decimals}f}"
    return text.translate(_ITALIAN_MARKS) if lang == "it" else text


def euros(value: float, lang: str) -> str:
    """`200 €` in Italian, `€200` in English (cents only when there are any)."""
    amount = number(value, lang, decimals=2)
    return f"{amount} €" if lang == "it" else f"€{amount}"


def price(value: float, unit: str, lang: str) -> str:
    """A price with its unit, e.g. `120 € al mese`; zero is `gratuito`/`free`."""
    if value == 0:
        return "gratuito" if lang == "it" else "free"
    per = _PER_UNIT[lang].get(unit, unit)
    return f"{euros(value, lang)} {per}"


def price_and_credits(value: float, unit: str, eligible: bool, lang: str) -> str:
    """A price and whether welfare credits pay it: `120 € al mese, pagabile con i crediti
    welfare`, `€12.50 per session, not payable with welfare credits`; free is just `free`."""
    if value == 0:
        return price(value, unit, lang)
    if lang == "it":
        credits = "pagabile" if eligible else "non pagabile"
        return f"{price(value, unit, lang)}, {credits} con i crediti welfare"
    credits = "payable" if eligible else "not payable"
    return f"{price(value, unit, lang)}, {credits} with welfare credits"


def place(address: str | None, remote: bool, lang: str) -> str:
    """Where a service is given: its address, or `a distanza (online)` / `online`."""
    if remote or not address:
        return "a distanza (online)" if lang == "it" else "online"
    return single_line(address)


def service_label(service_type: str, lang: str) -> str:
    """The human name of a service type, e.g. `Doposcuola`."""
    try:
        it, en = SERVICE_LABELS[ServiceType(service_type)]
    except ValueError:
        return service_type
    return it if lang == "it" else en


def service_in_text(service_type: str, lang: str) -> str:
    """A service type's name inside a sentence: `richiesta di doposcuola`, `request for
    after-school care`."""
    label = service_label(service_type, lang)
    return label[:1].lower() + label[1:]


def languages(codes: Sequence[str], lang: str) -> str:
    """`italiano, inglese`; unknown codes as they are."""
    names = LANGUAGE_NAMES[lang]
    return ", ".join(names.get(code, code) for code in codes)


def hours(slots: Sequence[WeeklySlot], lang: str) -> list[str]:
    """Weekly slots as readable lines, days sharing the same hours on one line:
    `lunedì, mercoledì 16:30–18:30`."""
    by_window: dict[tuple[str, str], list[Day]] = {}
    for slot in sorted(slots, key=lambda s: (_DAY_ORDER.index(s.day), s.start)):
        by_window.setdefault((slot.start, slot.end), []).append(slot.day)
    ordered = sorted(by_window.items(), key=lambda kv: (_DAY_ORDER.index(kv[1][0]), kv[0]))
    names = DAY_NAMES[lang]
    return [
        f"{', '.join(names[d] for d in dict.fromkeys(days))} {start}–{end}"
        for (start, end), days in ordered
    ]


ROME = ZoneInfo("Europe/Rome")

MONTH_NAMES = {
    "it": [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}


def count(n: int, one: str, many: str) -> str:
    """`1 posto`, `2 posti`: the number with the noun in the right number."""
    return f"{n} {one if n == 1 else many}"


def age(years: int, lang: str) -> str:
    """A beneficiary's age: `1 anno`, `8 anni`; `1 year old`, `8 years old`."""
    return count(years, "anno", "anni") if lang == "it" else count(years, "year old", "years old")


def quoted(title: str, lang: str) -> str:
    """A title inside the running text: «…» in Italian, “…” in English."""
    return f"«{title}»" if lang == "it" else f"“{title}”"


def deadline(moment: datetime, lang: str) -> str:
    """A moment as the reader says it, in Milan's time: `giovedì 28 novembre alle 14:30`,
    `Thursday 28 November at 14:30 (Italian time)`."""
    local = moment.astimezone(ROME)
    day = DAY_NAMES[lang][_DAY_ORDER[local.weekday()]]
    month = MONTH_NAMES[lang][local.month - 1]
    if lang == "it":
        return f"{day} {local.day} {month} alle {local:%H:%M}"
    return f"{day} {local.day} {month} at {local:%H:%M} (Italian time)"
