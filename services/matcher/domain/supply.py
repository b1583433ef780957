"""What the live offers of a market look like, counted by the attributes each not-found
reason reads (README: matching rules): a waiting demand's reasons come from these counts, not from a
scan of every offer.

Every rule but distance reads one attribute of the offer (its hours and validity, price,
free seats, languages, age range), so the offers failing a rule for a demand are the sum of
the counts of the attribute values that fail it, checked once per distinct value against a
representative offer. Distance is counted per demand by the market (its near offers)."""

from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

from concilia.contract.matches import NotFoundReason
from services.matcher.domain import rules
from services.matcher.domain.model import Demand, Offer

Reason = NotFoundReason


def _hours(offer: Offer) -> Hashable:
    days = tuple(sorted((day, tuple(spans)) for day, spans in offer.availability.items()))
    return days, offer.valid_from, offer.valid_until


def _fits_hours(offer: Offer, demand: Demand) -> bool:
    return rules.covers_needed_slots(offer, demand) and rules.valid_when_needed(offer, demand)


# The attribute-only rules: (reason, the attribute it reads, passes?)
_RULES: tuple[tuple[Reason, Callable[[Offer], Hashable], Callable[[Offer, Demand], bool]], ...] = (
    (Reason.NO_TIME_OVERLAP, _hours, _fits_hours),
    (Reason.OVER_BUDGET, lambda o: o.price_eur, rules.within_budget),
    (Reason.LANGUAGE, lambda o: o.languages, rules.shares_language),
    (Reason.AGE, lambda o: (o.min_age, o.max_age), rules.age_in_range),
)


class _Tally:
    """Offers counted by one attribute value, with one offer of each value to test rules on."""

    def __init__(self) -> None:
        self.count: Counter[Hashable] = Counter()
        self.sample: dict[Hashable, Offer] = {}

    def add(self, key: Hashable, offer: Offer, n: int) -> None:
        self.count[key] += n
        if self.count[key] <= 0:
            del self.count[key]
            self.sample.pop(key, None)
        else:
            self.sample.setdefault(key, offer)


class Supply:
    """Counts over the live offers of one market (kept by the market as offers change)."""

    def __init__(self) -> None:
        self.live = 0
        self.remote = 0  # live offers that can serve remotely
        self.changes = 0  # offers counted in or out, or reseated: see `steps_to_change`
        self.free: Counter[int] = Counter()  # live offers by remaining seats
        self._tallies = [_Tally() for _ in _RULES]

    def add(self, offer: Offer, remaining: int, n: int = 1) -> None:
        """Count a live offer in (n=1) or out (n=-1)."""
        self.changes += 1
        self.live += n
        self.remote += n if offer.remote else 0
        self.free[remaining] += n
        if self.free[remaining] <= 0:
            del self.free[remaining]
        for tally, (_, key, _) in zip(self._tallies, _RULES, strict=True):
            tally.add(key(offer), offer, n)

    def reseat(self, before: int, after: int) -> None:
        """A live offer's remaining seats changed."""
        self.changes += 1
        self.free[before] -= 1
        if self.free[before] <= 0:
            del self.free[before]
        self.free[after] += 1

    def failing(self, demand: Demand) -> dict[Reason, int]:
        """How many live offers each attribute rule (and seats) rules out for `demand`."""
        counts: dict[Reason, int] = {}
        for tally, (reason, _, passes) in zip(self._tallies, _RULES, strict=True):
            n = sum(c for k, c in tally.count.items() if not passes(tally.sample[k], demand))
            if n:
                counts[reason] = n
        full = sum(c for seats, c in self.free.items() if seats < demand.seats)
        if full:
            counts[Reason.FULL] = full
        return counts


def failing_one(offer: Offer, remaining: int, demand: Demand) -> dict[Reason, int]:
    """The attribute rules (and seats) one offer fails for `demand`, as counts."""
    counts = {r: 1 for r, _, passes in _RULES if not passes(offer, demand)}
    if not rules.has_seats(offer, remaining, demand):
        counts[Reason.FULL] = 1
    return counts


def why(candidates: int, too_far: int, failing: dict[Reason, int]) -> tuple[Reason, dict[str, Any]]:
    """The main reason and the `reasons` of a not_found, from the counts."""
    excluded = {**failing, Reason.TOO_FAR: too_far}
    excluded = {r: n for r, n in excluded.items() if n > 0}
    reason = rules.main_reason(excluded)
    return reason, {
        "reason": str(reason),
        "candidates": candidates,
        "excluded": {str(r): excluded[r] for r in rules.REASON_ORDER if r in excluded},
    }


def steps_to_change(too_far: int, failing: dict[Reason, int]) -> int:
    """How many `changes` of the supply it takes, at least, before the main reason of these
    counts can be another. One change (an offer counted in or out with the demands' reach
    kept, or reseated) moves every count by at most one, all the same way, so the gap
    between the main reason's count and any other's closes by at most one."""
    counts = dict.fromkeys(rules.REASON_ORDER, 0)
    counts.update({r: n for r, n in failing.items() if n > 0})
    counts[Reason.TOO_FAR] = max(0, too_far)
    main = rules.main_reason({r: n for r, n in counts.items() if n > 0})
    rank = rules.REASON_ORDER.index(main)
    return min(
        counts[main] - counts[r] + (0 if i < rank else 1)
        for i, r in enumerate(rules.REASON_ORDER)
        if r != main
    )
