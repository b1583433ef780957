"""Isola sample offers: 20 providers across the four areas, plus two "late" offers that the
demo publishes after the first round to serve demands that were waiting."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from concilia.sample import places as p
from concilia.sample.places import Place

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
EVERY_DAY = (*WEEKDAYS, "sat", "sun")


def slots(days: tuple[str, ...], start: str, end: str) -> list[dict[str, str]]:
    return [{"day": d, "start": start, "end": end} for d in days]


@dataclass(frozen=True)
class SampleOffer:
    key: str  # stable: the demo derives the Idempotency-Key from it
    organization: str  # the provider organisation id (its token's `org`)
    payload: dict[str, Any]  # an OfferCreate body
    late: bool = False


def _offer(
    key: str,
    org: str,
    name: str,
    title: str,
    service_type: str,
    place: Place | None,
    availability: list[dict[str, str]],
    *,
    today: date,
    capacity: int,
    price: float,
    unit: str = "month",
    languages: tuple[str, ...] = ("it",),
    ages: tuple[int | None, int | None] = (None, None),
    radius_km: float | None = None,
    description: str = "",
    late: bool = False,
) -> SampleOffer:
    payload: dict[str, Any] = {
        "title": title,
        "description": description,
        "service_type": service_type,
        "remote": place is None,
        "location": place.as_location() if place else None,
        "radius_km": radius_km,
        "availability": availability,
        "valid_from": (today - timedelta(days=30)).isoformat(),
        "valid_until": (today + timedelta(days=365)).isoformat(),
        "capacity": capacity,
        "price_eur": price,
        "price_unit": unit,
        "welfare_eligible": True,
        "languages": list(languages),
        "min_age": ages[0],
        "max_age": ages[1],
        "contact": {"name": name, "email": f"{org}@example.org", "language": "it"},
    }
    return SampleOffer(key, org, payload, late)


def offers(today: date) -> list[SampleOffer]:
    """Every sample offer (late ones last), dated relative to `today`."""
    afternoon = slots(WEEKDAYS, "14:00", "19:00")
    # fmt: off
    return [
        # family
        _offer("after-school", "coop-isola-ragazzi", "Cooperativa Isola Ragazzi",
               "Doposcuola Isola", "after_school", p.ARCHINTO, afternoon, today=today,
               capacity=8, price=120, languages=("it", "en"), ages=(6, 11),
               description="Aiuto compiti e laboratori per la scuola primaria."),
        _offer("nursery", "nido-stelle", "Nido Stelle di Isola", "Nido Stelle di Isola",
               "childcare", p.THAON_DI_REVEL, slots(WEEKDAYS, "07:30", "18:30"), today=today,
               capacity=4, price=450, languages=("it", "en"), ages=(0, 3)),
        _offer("babysitting", "tata-in-rete", "Associazione Tata in Rete",
               "Babysitter a domicilio", "babysitting", p.SEBENICO,
               slots((*WEEKDAYS, "sat"), "08:00", "22:00"), today=today, capacity=4, price=12,
               unit="hour", languages=("it", "en", "es"), ages=(0, 12), radius_km=2),
        _offer("elderly", "argento-vivo", "Fondazione Argento Vivo",
               "Assistenza anziani diurna", "elderly_care", p.CONFALONIERI,
               slots(WEEKDAYS, "09:00", "17:00"), today=today, capacity=3, price=300,
               ages=(65, 110)),
        _offer("summer-camp", "polisportiva-isola", "Polisportiva Isola",
               "Campus estivo Isola", "summer_camp", p.POLLAIUOLO,
               slots(WEEKDAYS, "08:30", "16:30"), today=today, capacity=2, price=160,
               languages=("it", "en"), ages=(6, 14)),
        # health
        _offer("screening", "centro-medico-garibaldi", "Centro Medico Garibaldi",
               "Check-up e screening", "health_screening", p.CORSO_COMO,
               slots(WEEKDAYS, "08:00", "13:00"), today=today, capacity=10, price=40,
               unit="session", languages=("it", "en"), ages=(18, 99)),
        _offer("psychologist", "psicologia-porta-nuova", "Studio Psicologia Porta Nuova",
               "Sostegno psicologico online", "psychological_support", None,
               slots(WEEKDAYS, "18:00", "21:00"), today=today, capacity=6, price=50,
               unit="session", languages=("it", "en", "es"), ages=(14, 99)),
        _offer("physio", "fisio-isola", "FisioIsola", "Fisioterapia in Isola", "physiotherapy",
               p.CARMAGNOLA, slots(WEEKDAYS, "08:00", "20:00"), today=today, capacity=4,
               price=45, unit="session", ages=(16, 99)),
        _offer("nutrition", "nutrizione-consapevole", "Nutrizione Consapevole",
               "Consulenza nutrizionale", "nutrition", p.STELVIO,
               slots(("tue", "thu"), "09:00", "18:00"), today=today, capacity=5, price=60,
               unit="session", languages=("it", "en")),
        # leisure
        _offer("sport", "asd-isola-sport", "ASD Isola Sport", "Nuoto e ginnastica",
               "sport", p.PEPE,
               [*slots(WEEKDAYS, "17:00", "21:00"), *slots(("sat",), "09:00", "13:00")],
               today=today, capacity=10, price=35, ages=(6, 70)),
        _offer("culture", "stecca-cultura", "Associazione Stecca Cultura",
               "Laboratori e visite alla Stecca", "culture", p.DE_CASTILLIA,
               slots(("tue", "wed", "thu", "fri", "sat"), "10:00", "19:00"), today=today,
               capacity=15, price=0, languages=("it", "en")),
        _offer("languages", "lingue-gae-aulenti", "Scuola di Lingue Gae Aulenti",
               "Italiano per stranieri", "courses", p.GAE_AULENTI,
               slots(("mon", "wed"), "18:30", "20:30"), today=today, capacity=8, price=90,
               languages=("it", "en", "ar", "zh", "uk"), ages=(16, 99)),
        _offer("seniors-club", "circolo-anziani-isola", "Circolo Anziani Isola",
               "Pomeriggi insieme", "social_activities", p.VOLTURNO,
               slots(WEEKDAYS, "14:00", "18:00"), today=today, capacity=20, price=0,
               ages=(60, 110)),
        # work
        _offer("coworking", "isola-hub", "Isola Hub Coworking", "Postazioni in coworking",
               "coworking", p.PORRO_LAMBERTENGHI, slots(WEEKDAYS, "08:00", "20:00"),
               today=today, capacity=6, price=150, languages=("it", "en"), ages=(18, 99)),
        _offer("smart-working", "rete-smart-working", "Rete Smart Working Porta Nuova",
               "Affiancamento smart working per PMI", "smart_working_advice", None,
               slots(("tue", "thu"), "10:00", "12:00"), today=today, capacity=10, price=0,
               languages=("it", "en")),
        _offer("training", "formazione-garibaldi", "Formazione Lavoro Garibaldi",
               "Corsi di competenze digitali", "training", p.PASTRENGO,
               slots(WEEKDAYS, "09:00", "13:00"), today=today, capacity=12, price=0,
               languages=("it", "en", "ar"), ages=(16, 99)),
        _offer("bikes", "bici-in-isola", "Bici in Isola", "Bici e cargo bike condivise",
               "mobility", p.SEBENICO, slots(EVERY_DAY, "07:00", "21:00"), today=today,
               capacity=10, price=20, radius_km=2),
        _offer("errands", "maggiordomo-quartiere", "Maggiordomo di Quartiere",
               "Commissioni e ritiro pacchi", "errands", p.GARIGLIANO,
               slots(WEEKDAYS, "08:00", "19:00"), today=today, capacity=15, price=10,
               unit="session", languages=("it", "en")),
        _offer("tax-desk", "caf-isola", "CAF Isola", "Sportello fiscale e 730",
               "legal_tax_advice", p.COLA_MONTANO,
               [*slots(WEEKDAYS, "09:00", "12:30"), *slots(WEEKDAYS, "14:00", "17:30")],
               today=today, capacity=10, price=25, unit="session",
               languages=("it", "en", "es", "ar")),
        _offer("library", "biblioteca-alberi", "Biblioteca degli Alberi",
               "Letture e giochi al parco", "culture", p.ALVAR_AALTO,
               slots(("sat", "sun"), "10:00", "12:00"), today=today, capacity=12, price=0),
        # late: published by the demo after the first round has settled
        _offer("home-nursing", "infermieri-isola", "Infermieri di Quartiere Isola",
               "Infermiere a domicilio", "home_nursing", p.GARIGLIANO,
               slots(EVERY_DAY, "07:00", "21:00"), today=today, capacity=5, price=35,
               unit="session", languages=("it", "en"), radius_km=4, late=True),
        _offer("saturday-club", "ludoteca-stecca", "Ludoteca della Stecca",
               "Sabato in ludoteca", "after_school", p.DE_CASTILLIA,
               slots(("sat",), "09:00", "13:00"), today=today, capacity=4, price=100,
               ages=(6, 11), radius_km=2, late=True),
    ]
    # fmt: on
