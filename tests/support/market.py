"""Domain-level factories for the matcher: offer and demand event payloads, value objects
and CloudEvents, built on the HTTP factories with real Isola places."""

from datetime import UTC, datetime, timedelta
from typing import Any

from concilia.contract.answers import MatchAnswerData
from concilia.contract.demands import DemandEventData, DemandType
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.contract.matches import Answer, NotFoundReason, Party
from concilia.contract.offers import OfferEventData, OfferType
from concilia.contract.taxonomy import area_of
from services.matcher.domain import rules, scoring
from services.matcher.domain.events import AnswerGiven, DemandChanged, OfferChanged
from services.matcher.domain.market import DemandRecord, DemandState, Market, _Choice
from services.matcher.domain.model import Demand, Offer
from tests.support.factories import a_demand, an_offer

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """A moment `minutes` after T0 (events carry their own time; the domain has no clock)."""
    return T0 + timedelta(minutes=minutes)


def offer_data(
    offer_id: str = "offer-1", *, version: int = 1, status: str = "open", **fields: Any
) -> OfferEventData:
    """The offer.* payload of `an_offer(**fields)`: no contact, a provider_ref instead."""
    body = an_offer(**fields)
    body.pop("contact")
    return OfferEventData.model_validate(
        {
            **body,
            "id": offer_id,
            "organization_id": "org-cooperativa",
            "provider_ref": f"provider-{offer_id}",
            "status": status,
            "version": version,
            "area": str(area_of(body["service_type"])),
            "created_at": T0,
        }
    )


def demand_data(
    demand_id: str = "demand-1", *, version: int = 1, status: str = "open", **fields: Any
) -> DemandEventData:
    """The demand.* payload of `a_demand(**fields)`: location rounded, no requester."""
    body = a_demand(**fields)
    body.pop("requester")
    location = body.pop("location")
    return DemandEventData.model_validate(
        {
            **body,
            "location": {"lat": round(location["lat"], 3), "lon": round(location["lon"], 3)},
            "id": demand_id,
            "organization_id": "org-azienda",
            "requester_ref": f"requester-{demand_id}",
            "status": status,
            "version": version,
            "area": str(area_of(body["service_type"])),
            "created_at": T0,
        }
    )


def an_offer_of(offer_id: str = "offer-1", **fields: Any) -> Offer:
    return Offer.from_event(offer_data(offer_id, **fields))


def a_demand_for(demand_id: str = "demand-1", **fields: Any) -> Demand:
    return Demand.from_event(demand_data(demand_id, **fields))


def published(offer_id: str = "offer-1", **fields: Any) -> OfferChanged:
    return OfferChanged(an_offer_of(offer_id, **fields), closing=False)


def withdrawn(offer_id: str = "offer-1", **fields: Any) -> OfferChanged:
    return OfferChanged(an_offer_of(offer_id, status="withdrawn", **fields), closing=True)


def offer_expired(offer_id: str = "offer-1", **fields: Any) -> OfferChanged:
    return OfferChanged(an_offer_of(offer_id, status="expired", **fields), closing=True)


def submitted(demand_id: str = "demand-1", **fields: Any) -> DemandChanged:
    return DemandChanged(a_demand_for(demand_id, **fields), closing=False)


def demand_withdrawn(demand_id: str = "demand-1", **fields: Any) -> DemandChanged:
    return DemandChanged(a_demand_for(demand_id, status="withdrawn", **fields), closing=True)


def demand_expired(demand_id: str = "demand-1", **fields: Any) -> DemandChanged:
    return DemandChanged(a_demand_for(demand_id, status="expired", **fields), closing=True)


def answer(
    match_id: str,
    party: Party,
    given: Answer,
    record_id: str,
    when: datetime = T0,
    service_type: str = "after_school",
) -> AnswerGiven:
    """A party's answer to a match, as the matcher parses it."""
    return AnswerGiven(match_id, party, given, record_id, service_type, when)


def requester_accepts(
    match_id: str, demand_id: str = "demand-1", when: datetime = T0
) -> AnswerGiven:
    return answer(match_id, Party.REQUESTER, Answer.ACCEPTED, demand_id, when)


def requester_declines(
    match_id: str, demand_id: str = "demand-1", when: datetime = T0
) -> AnswerGiven:
    return answer(match_id, Party.REQUESTER, Answer.DECLINED, demand_id, when)


def provider_accepts(match_id: str, offer_id: str = "offer-1", when: datetime = T0) -> AnswerGiven:
    return answer(match_id, Party.PROVIDER, Answer.ACCEPTED, offer_id, when)


def provider_declines(match_id: str, offer_id: str = "offer-1", when: datetime = T0) -> AnswerGiven:
    return answer(match_id, Party.PROVIDER, Answer.DECLINED, offer_id, when)


def answer_event(
    type_: str, match_id: str, *, service_type: str, when: datetime, **record: str
) -> CloudEvent:
    """demand.match_* (record demand_id=…) or offer.match_* (offer_id=…) as the demands or
    offers service publishes it (id = stable_id(type, match_id), time = answered_at)."""
    data = MatchAnswerData.model_validate(
        {"match_id": match_id, "service_type": service_type, "answered_at": when, **record}
    )
    [record_id] = record.values()
    return CloudEvent.new(
        id=stable_id(type_, match_id),
        type=type_,
        source="demands" if type_.startswith("demand.") else "offers",
        subject=record_id,
        time=when,
        data=data.model_dump(mode="json"),
    )


def offer_event(
    offer_id: str = "offer-1", type_: str = OfferType.PUBLISHED, **fields: Any
) -> CloudEvent:
    """An offer CloudEvent as the offers service publishes it (stable id per version)."""
    data = offer_data(offer_id, **fields)
    return CloudEvent.new(
        id=stable_id(type_, offer_id, data.version),
        type=type_,
        source="offers",
        subject=offer_id,
        time=T0,
        data=data.model_dump(mode="json"),
    )


def demand_event(
    demand_id: str = "demand-1", type_: str = DemandType.SUBMITTED, **fields: Any
) -> CloudEvent:
    """A demand CloudEvent as the demands service publishes it (stable id per version)."""
    data = demand_data(demand_id, **fields)
    return CloudEvent.new(
        id=stable_id(type_, demand_id, data.version),
        type=type_,
        source="demands",
        subject=demand_id,
        time=at(1),
        data=data.model_dump(mode="json"),
    )


class ScanIndex:
    """The brute-force reference: every offer is a candidate for every demand."""

    def __init__(self) -> None:
        self._ids: set[str] = set()

    def add(self, offer: Offer) -> None:
        self._ids.add(offer.id)

    def remove(self, offer_id: str) -> None:
        self._ids.discard(offer_id)

    def near(self, demand: Demand) -> set[str]:
        return set(self._ids)


class ScanMarket(Market):
    """The market as it was before its incremental indexes: every offer change looks at
    every waiting demand, and a reason to wait is counted over every live offer. The
    reference the incremental market must decide exactly like."""

    def _best(self, record: DemandRecord) -> Any:
        """Every feasible offer scored, the highest kept (ties to the lowest id)."""
        best = None
        for offer_id in self._index.near(record.demand):
            candidate = self.offers[offer_id]
            if offer_id in record.excluded or not rules.feasible(
                candidate.offer, candidate.remaining, record.demand
            ):
                continue
            km = rules.distance_km(candidate.offer, record.demand)
            score = scoring.score_at(candidate.offer, record.demand, km)
            if best is None or (-score, offer_id) < (-best.score, best.record.offer.id):
                best = _Choice(candidate, score, km)
        return best

    def _waiting(self) -> list[DemandRecord]:
        waiting = (r for r in self.demands.values() if r.state == DemandState.WAITING)
        return sorted(waiting, key=lambda r: r.seq)

    def _reason_may_have_changed(self) -> list[DemandRecord]:
        return self._waiting()

    def _waiting_near(self, offer: Offer) -> list[DemandRecord]:
        return self._waiting()

    def _why_not(self, record: DemandRecord) -> tuple[NotFoundReason, dict[str, Any]]:
        candidates = [
            r for r in self.offers.values() if r.active and r.offer.id not in record.excluded
        ]
        excluded: dict[NotFoundReason, int] = {}
        for offer in candidates:
            for reason in rules.exclusions(offer.offer, offer.remaining, record.demand):
                excluded[reason] = excluded.get(reason, 0) + 1
        reason = rules.main_reason(excluded)
        return reason, {
            "reason": str(reason),
            "candidates": len(candidates),
            "excluded": {str(r): excluded[r] for r in rules.REASON_ORDER if r in excluded},
        }
