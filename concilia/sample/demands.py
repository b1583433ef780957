"""Isola sample demands from six member organisations (companies, public bodies,
associations). Each one says what the matching rules (README) should make of it:
`matched`, `late` (served only by a late offer) or the reason it must keep waiting."""

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from concilia.sample import places as p
from concilia.sample.offers import WEEKDAYS, slots
from concilia.sample.places import Place

# Member organisations of the network that post demands for their workers and families.
MEMBERS = {
    "isola-digital": "Isola Digital Srl (company)",
    "porta-nuova-assicurazioni": "Porta Nuova Assicurazioni SpA (company)",
    "comune-milano-municipio-9": "Comune di Milano – Municipio 9 (public body)",
    "asst-fatebenefratelli-sacco": "ASST Fatebenefratelli Sacco (public body)",
    "acli-isola": "ACLI Isola (association)",
    "genitori-isola": "Associazione Genitori Isola (association)",
}
EXPECTATIONS = (
    "matched",
    "late",
    "no_provider",
    "too_far",
    "no_time_overlap",
    "over_budget",
    "full",
    "language",
    "age",
)


@dataclass(frozen=True)
class SampleDemand:
    key: str
    organization: str
    person: str
    place: Place
    payload: dict[str, Any]  # a DemandCreate body
    expect: str


def _demand(
    key: str,
    org: str,
    person: str,
    service_type: str,
    place: Place,
    needed: list[dict[str, str]],
    expect: str,
    *,
    today: date,
    age: int | None = None,
    languages: tuple[str, ...] = ("it",),
    max_price: float | None = None,
    max_km: float = 3,
    remote: bool = False,
    seats: int = 1,
    writes_in: str = "it",
) -> SampleDemand:
    first, last = person.split(" ", 1)
    # Mailboxes are ASCII (the API refuses others): Nicolò writes from nicolo.testa@.
    ascii_name = unicodedata.normalize("NFKD", f"{first}.{last.replace(' ', '')}")
    email = f"{ascii_name.encode('ascii', 'ignore').decode()}@example.it".lower()
    payload: dict[str, Any] = {
        "service_type": service_type,
        "location": place.as_location(),
        "max_distance_km": max_km,
        "accepts_remote": remote,
        "needed": needed,
        "seats": seats,
        "max_price_eur": max_price,
        "languages": list(languages),
        "beneficiary_age": age,
        "needed_from": today.isoformat(),
        "requester": {"name": person, "email": email, "language": writes_in},
    }
    return SampleDemand(key, org, first, place, payload, expect)


def demands(today: date) -> list[SampleDemand]:
    """Every sample demand, in the order the demo submits them."""
    t = today
    mw = slots(("mon", "wed"), "16:30", "18:30")
    tt = slots(("tue", "thu"), "16:00", "18:00")
    days = slots(WEEKDAYS, "08:30", "16:30")
    # fmt: off
    return [
        # family · after_school (Doposcuola Isola, Piazzale Archinto)
        _demand("d01", "genitori-isola", "Giulia Rossi", "after_school", p.BORSIERI, mw,
                "matched", today=t, age=8, max_price=200),
        _demand("d02", "isola-digital", "Ahmed Benali", "after_school", p.SEBENICO, tt,
                "matched", today=t, age=9, languages=("it", "ar"), max_price=150),
        _demand("d03", "comune-milano-municipio-9", "Sofia Colombo", "after_school",
                p.THAON_DI_REVEL, slots(WEEKDAYS, "14:30", "16:30"), "matched", today=t, age=7),
        _demand("d04", "porta-nuova-assicurazioni", "Luca Ferrari", "after_school",
                p.POLLAIUOLO, slots(("wed",), "14:00", "18:00"), "matched", today=t, age=10),
        _demand("d05", "isola-digital", "Emma Clarke", "after_school", p.CONFALONIERI,
                slots(("fri",), "15:00", "19:00"), "matched", today=t, age=6,
                languages=("en",), writes_in="en"),
        _demand("d06", "genitori-isola", "Tommaso Greco", "after_school", p.CARMAGNOLA, mw,
                "age", today=t, age=13),
        _demand("d07", "porta-nuova-assicurazioni", "Chiara Bruno", "after_school",
                p.NAVIGLI, mw, "too_far", today=t, age=8),
        _demand("d08", "acli-isola", "Matteo Gallo", "after_school", p.VOLTURNO, tt,
                "over_budget", today=t, age=9, max_price=80),
        _demand("d09", "isola-digital", "Alice Conti", "after_school", p.DE_CASTILLIA,
                slots(("mon",), "19:00", "20:30"), "no_time_overlap", today=t, age=7),
        _demand("d10", "genitori-isola", "Pietro Marino", "after_school", p.GARIGLIANO,
                slots(("sat",), "09:30", "12:30"), "late", today=t, age=8),
        _demand("d11", "comune-milano-municipio-9", "Anna Costa", "after_school",
                p.COLA_MONTANO, slots(("sat",), "09:30", "12:30"), "late", today=t, age=10),
        # family · childcare (Nido Stelle, Via Thaon di Revel)
        _demand("d12", "isola-digital", "Marco Ricci", "childcare", p.ARCHINTO, days,
                "matched", today=t, age=1, max_price=500),
        _demand("d13", "asst-fatebenefratelli-sacco", "Fatima El Amrani", "childcare",
                p.PASTRENGO, slots(WEEKDAYS, "08:00", "17:00"), "matched", today=t, age=2,
                languages=("it", "ar")),
        _demand("d14", "porta-nuova-assicurazioni", "Wei Zhang", "childcare", p.GAE_AULENTI,
                days, "matched", today=t, age=1, languages=("zh", "en"), writes_in="en"),
        _demand("d15", "acli-isola", "Olena Shevchenko", "childcare", p.SEBENICO, days,
                "language", today=t, age=2, languages=("uk",), writes_in="en"),
        _demand("d16", "porta-nuova-assicurazioni", "Carlos Garcia", "childcare", p.LAMBRATE,
                days, "too_far", today=t, age=1, languages=("es", "it")),
        _demand("d17", "comune-milano-municipio-9", "Sara Lombardi", "childcare",
                p.CORSO_COMO, days, "over_budget", today=t, age=2, max_price=300),
        # family · babysitting (Tata in Rete, Via Sebenico, serves within 2 km)
        _demand("d18", "genitori-isola", "Laura Moretti", "babysitting", p.CARMAGNOLA,
                slots(("fri",), "19:00", "23:00"), "no_time_overlap", today=t, age=4),
        _demand("d19", "isola-digital", "Diego Fernandez", "babysitting",
                p.PORRO_LAMBERTENGHI, slots(("sat",), "18:00", "22:00"), "matched", today=t,
                age=4, languages=("es",), writes_in="en"),
        _demand("d20", "porta-nuova-assicurazioni", "Elena Russo", "babysitting",
                p.GAE_AULENTI, slots(("tue",), "20:00", "22:00"), "matched", today=t, age=5),
        _demand("d21", "asst-fatebenefratelli-sacco", "Paola Fontana", "babysitting",
                p.BICOCCA, slots(("thu",), "18:00", "21:00"), "too_far", today=t, age=3,
                max_km=5),
        # family · elderly_care (Fondazione Argento Vivo, Via Confalonieri)
        _demand("d22", "comune-milano-municipio-9", "Giuseppe Esposito", "elderly_care",
                p.VOLTURNO, slots(("mon", "wed", "fri"), "09:00", "12:00"), "matched",
                today=t, age=84),
        _demand("d23", "acli-isola", "Rosa Barbieri", "elderly_care", p.GARIGLIANO,
                slots(("tue", "thu"), "14:00", "17:00"), "matched", today=t, age=78),
        _demand("d24", "asst-fatebenefratelli-sacco", "Hassan Mahmoud", "elderly_care",
                p.PEPE, slots(("mon",), "10:00", "12:00"), "language", today=t, age=70,
                languages=("ar",), writes_in="en"),
        _demand("d25", "porta-nuova-assicurazioni", "Maria Santoro", "elderly_care",
                p.SAN_SIRO, slots(("tue",), "10:00", "12:00"), "too_far", today=t, age=90),
        _demand("d26", "acli-isola", "Franco Villa", "elderly_care", p.STELVIO,
                slots(("sun",), "10:00", "12:00"), "no_time_overlap", today=t, age=81),
        # family · summer_camp (Campus estivo, two seats only) and disability_support (none)
        _demand("d27", "isola-digital", "Giorgio Marchetti", "summer_camp", p.BORSIERI, days,
                "matched", today=t, age=9),
        _demand("d28", "genitori-isola", "Martina De Luca", "summer_camp", p.ARCHINTO, days,
                "matched", today=t, age=11),
        _demand("d29", "porta-nuova-assicurazioni", "Davide Rinaldi", "summer_camp",
                p.CONFALONIERI, days, "full", today=t, age=10),
        _demand("d30", "comune-milano-municipio-9", "Valentina Caruso", "summer_camp",
                p.THAON_DI_REVEL, days, "full", today=t, age=7, seats=2),
        _demand("d31", "acli-isola", "Stefano Ferri", "disability_support", p.CARMAGNOLA,
                slots(("mon", "thu"), "09:00", "13:00"), "no_provider", today=t, age=34),
        _demand("d32", "asst-fatebenefratelli-sacco", "Ilaria Galli", "disability_support",
                p.COLA_MONTANO, slots(("wed",), "15:00", "18:00"), "no_provider", today=t,
                age=16),
        # health · health_screening (Centro Medico Garibaldi, Corso Como)
        _demand("d33", "isola-digital", "Paolo Romano", "health_screening", p.DE_CASTILLIA,
                slots(("tue",), "08:30", "09:30"), "matched", today=t, age=52),
        _demand("d34", "porta-nuova-assicurazioni", "Anna Ricci", "health_screening",
                p.BORSIERI, slots(("thu",), "10:00", "11:00"), "matched", today=t, age=45),
        _demand("d35", "isola-digital", "John Miller", "health_screening", p.GAE_AULENTI,
                slots(("mon",), "09:00", "10:00"), "matched", today=t, age=38,
                languages=("en",), writes_in="en"),
        _demand("d36", "comune-milano-municipio-9", "Lucia Pellegrini", "health_screening",
                p.NAVIGLI, slots(("wed",), "09:00", "10:00"), "too_far", today=t, age=60),
        _demand("d37", "acli-isola", "Roberto Sala", "health_screening", p.PASTRENGO,
                slots(("fri",), "09:00", "10:00"), "over_budget", today=t, age=58,
                max_price=20),
        # health · psychological_support (online) and physiotherapy (FisioIsola)
        _demand("d38", "porta-nuova-assicurazioni", "Federica Mancini", "psychological_support",
                p.POLLAIUOLO, slots(("wed",), "19:00", "20:00"), "matched", today=t, age=35,
                remote=True),
        _demand("d39", "isola-digital", "Lucia Hernandez", "psychological_support",
                p.LAMBRATE, slots(("mon",), "18:30", "19:30"), "matched", today=t, age=29,
                languages=("es",), remote=True, writes_in="en"),
        _demand("d40", "genitori-isola", "Nicolò Testa", "psychological_support", p.SEBENICO,
                slots(("tue",), "18:00", "19:00"), "age", today=t, age=12, remote=True),
        _demand("d41", "asst-fatebenefratelli-sacco", "Li Wei", "psychological_support",
                p.CORSO_COMO, slots(("thu",), "19:00", "20:00"), "language", today=t, age=41,
                languages=("zh",), remote=True, writes_in="en"),
        _demand("d42", "comune-milano-municipio-9", "Bruno Farina", "physiotherapy",
                p.CONFALONIERI, slots(("mon", "thu"), "18:00", "19:00"), "matched", today=t,
                age=55),
        _demand("d43", "acli-isola", "Carla Monti", "physiotherapy", p.SEBENICO,
                slots(("tue",), "10:00", "11:00"), "matched", today=t, age=67),
        _demand("d44", "isola-digital", "Andrea Vitale", "physiotherapy", p.ARCHINTO,
                slots(("fri",), "12:00", "13:00"), "over_budget", today=t, age=44,
                max_price=30),
        # health · nutrition (Via Stelvio) and home_nursing (only the late offer)
        _demand("d45", "porta-nuova-assicurazioni", "Giada Longo", "nutrition", p.THAON_DI_REVEL,
                slots(("tue",), "12:30", "13:30"), "matched", today=t, age=33),
        _demand("d46", "isola-digital", "Simone Leone", "nutrition", p.PEPE,
                slots(("sat",), "10:00", "11:00"), "no_time_overlap", today=t, age=40),
        _demand("d47", "comune-milano-municipio-9", "Teresa Gentile", "home_nursing",
                p.VOLTURNO, slots(("mon", "thu"), "08:00", "09:00"), "late", today=t, age=88),
        _demand("d48", "acli-isola", "Aldo Martini", "home_nursing", p.CARMAGNOLA,
                slots(("sun",), "10:00", "11:00"), "late", today=t, age=79),
        _demand("d49", "asst-fatebenefratelli-sacco", "Irina Kovalenko", "home_nursing",
                p.STELVIO, slots(("wed",), "18:00", "19:00"), "late", today=t, age=83,
                languages=("uk", "en"), writes_in="en"),
        # leisure · sport (Via Pepe), culture (Stecca, Biblioteca degli Alberi)
        _demand("d50", "genitori-isola", "Leonardo Serra", "sport", p.BORSIERI,
                slots(("tue", "thu"), "17:00", "18:30"), "matched", today=t, age=10),
        _demand("d51", "isola-digital", "Camilla Fabbri", "sport", p.SEBENICO,
                slots(("mon", "wed"), "19:30", "21:00"), "matched", today=t, age=34),
        _demand("d52", "acli-isola", "Ernesto Bianchi", "sport", p.COLA_MONTANO,
                slots(("sat",), "10:00", "11:00"), "age", today=t, age=75),
        _demand("d53", "porta-nuova-assicurazioni", "Marta Guerra", "sport", p.BICOCCA,
                slots(("wed",), "18:00", "19:00"), "too_far", today=t, age=30, max_km=2),
        _demand("d54", "comune-milano-municipio-9", "Beatrice Riva", "culture",
                p.GARIGLIANO, slots(("sat",), "10:00", "12:00"), "matched", today=t),
        _demand("d55", "isola-digital", "Oliver Smith", "culture", p.ALVAR_AALTO,
                slots(("thu",), "10:00", "12:00"), "matched", today=t, languages=("en",),
                writes_in="en"),
        _demand("d56", "acli-isola", "Gianna Fumagalli", "culture", p.VOLTURNO,
                slots(("mon",), "10:00", "12:00"), "no_time_overlap", today=t),
        # leisure · courses (Italiano per stranieri) and social_activities (Circolo Anziani)
        _demand("d57", "acli-isola", "Olena Bondarenko", "courses", p.PASTRENGO,
                slots(("mon",), "18:30", "20:30"), "matched", today=t, age=36,
                languages=("uk",), writes_in="en"),
        _demand("d58", "asst-fatebenefratelli-sacco", "Xiaoming Chen", "courses",
                p.CORSO_COMO, slots(("wed",), "18:30", "20:30"), "matched", today=t, age=27,
                languages=("zh",), writes_in="en"),
        _demand("d59", "comune-milano-municipio-9", "Youssef Haddad", "courses", p.GARIGLIANO,
                slots(("mon", "wed"), "18:30", "20:30"), "matched", today=t, age=31,
                languages=("ar", "it")),
        _demand("d60", "isola-digital", "Priya Sharma", "courses", p.BORSIERI,
                slots(("wed",), "18:30", "20:30"), "over_budget", today=t, age=26,
                languages=("en",), max_price=50, writes_in="en"),
        _demand("d61", "acli-isola", "Renato Cattaneo", "social_activities", p.VOLTURNO,
                slots(("tue", "thu"), "15:00", "17:00"), "matched", today=t, age=72),
        _demand("d62", "comune-milano-municipio-9", "Lidia Brambilla", "social_activities",
                p.THAON_DI_REVEL, slots(("wed",), "14:30", "17:30"), "matched", today=t,
                age=68),
        _demand("d63", "genitori-isola", "Kevin Bassi", "social_activities", p.ARCHINTO,
                slots(("fri",), "15:00", "17:00"), "age", today=t, age=45),
        # work · coworking, smart-working advice (online), training
        _demand("d64", "isola-digital", "Francesca Neri", "coworking", p.CONFALONIERI,
                slots(WEEKDAYS, "09:00", "18:00"), "matched", today=t, age=31),
        _demand("d65", "porta-nuova-assicurazioni", "Michele Orlando", "coworking",
                p.PEPE, slots(("tue", "thu"), "09:00", "13:00"), "matched", today=t, age=42),
        _demand("d66", "acli-isola", "Sergio Pagano", "coworking", p.CARMAGNOLA,
                slots(("mon",), "09:00", "18:00"), "over_budget", today=t, age=50,
                max_price=100),
        _demand("d67", "porta-nuova-assicurazioni", "Claudia Parisi", "coworking",
                p.SAN_SIRO, slots(("fri",), "09:00", "18:00"), "too_far", today=t, age=37),
        _demand("d68", "isola-digital", "Alessandro Sanna", "smart_working_advice",
                p.GAE_AULENTI, slots(("tue",), "10:00", "11:00"), "matched", today=t,
                remote=True),
        _demand("d69", "comune-milano-municipio-9", "Daniela Ferraro", "smart_working_advice",
                p.DE_CASTILLIA, slots(("thu",), "10:30", "12:00"), "matched", today=t,
                remote=True),
        _demand("d70", "asst-fatebenefratelli-sacco", "Omar Saleh", "training", p.PASTRENGO,
                slots(("mon", "wed"), "09:00", "12:00"), "matched", today=t, age=24,
                languages=("ar",), writes_in="en"),
        _demand("d71", "acli-isola", "Giovanna Marini", "training", p.BORSIERI,
                slots(("tue",), "09:30", "12:30"), "matched", today=t, age=46),
        _demand("d72", "genitori-isola", "Riccardo Fiore", "training", p.SEBENICO,
                slots(("thu",), "18:00", "20:00"), "no_time_overlap", today=t, age=39),
        # work · mobility, errands, legal and tax advice
        _demand("d73", "isola-digital", "Elisa Grasso", "mobility", p.POLLAIUOLO,
                slots(("mon", "wed", "fri"), "08:00", "09:00"), "matched", today=t),
        _demand("d74", "porta-nuova-assicurazioni", "Filippo Rizzi", "mobility",
                p.MONTE_GRAPPA, slots(("tue", "thu"), "18:00", "19:00"), "matched", today=t),
        _demand("d75", "isola-digital", "Noemi Silvestri", "errands", p.VOLTURNO,
                slots(("wed",), "12:00", "13:00"), "matched", today=t),
        _demand("d76", "comune-milano-municipio-9", "Tiziana Morelli", "errands",
                p.ARCHINTO, slots(("fri",), "17:00", "18:00"), "matched", today=t),
        _demand("d77", "porta-nuova-assicurazioni", "Jacopo Benedetti", "errands",
                p.DE_CASTILLIA, slots(("mon",), "08:30", "09:30"), "matched", today=t),
        _demand("d78", "acli-isola", "Mariana Lopez", "legal_tax_advice", p.COLA_MONTANO,
                slots(("tue",), "10:00", "11:00"), "matched", today=t, languages=("es",),
                writes_in="en"),
        _demand("d79", "genitori-isola", "Cristina Valentini", "legal_tax_advice",
                p.PORRO_LAMBERTENGHI, slots(("thu",), "15:00", "16:00"), "matched", today=t),
        _demand("d80", "isola-digital", "Fabio Cocco", "legal_tax_advice", p.CONFALONIERI,
                slots(("wed",), "12:30", "14:00"), "no_time_overlap", today=t),
        _demand("d81", "asst-fatebenefratelli-sacco", "Oksana Melnyk", "legal_tax_advice",
                p.STELVIO, slots(("fri",), "09:30", "10:30"), "language", today=t,
                languages=("uk",), writes_in="en"),
    ]
    # fmt: on
