"""The waiting demands of a market, indexed so that an offer visits only the demands it
could serve, and grouped so that a change of the supply finds the demands whose reason to
wait changed without looking at the others.

Where: by the demand's reach (its max distance, rounded up to a tier), the days it needs and
its ~1 km grid cell; remote-accepting demands also by the days they need. An offer looks in
the cells within the tier's distance (or its own radius, if smaller) of its place.

Why: a waiting demand without exclusions of its own fails every rule but distance exactly
as every other demand with the same needs (hours, budget, seats, languages, age, remote),
against the same counts of the supply. So its main reason is `too_far` when
live − reachable ≥ the largest other count, i.e. when `near` (its reachable physical offers,
the remote-and-near ones aside if it accepts remote) is at most a threshold of its group;
else the group's top other reason. Demands are kept by group, then by the reason last sent,
then by `near`: after an offer changes, only the buckets on the wrong side of the threshold
are looked at. Demands with excluded offers are few (declines) and looked at one by one."""

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from concilia.contract.matches import NotFoundReason
from services.matcher.domain.geo import Cell, box_size, cell_of, cells_in, search_box
from services.matcher.domain.model import Demand, Offer

TIERS_KM = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)  # beyond: scanned for every offer
_WIDE = float("inf")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Group = Hashable


def days_mask(days: Iterator[str] | list[str] | set[str]) -> int:
    return sum(1 << _DAYS.index(day) for day in set(days) if day in _DAYS)


def needs_mask(demand: Demand) -> int:
    return days_mask([slot.day for slot in demand.needed])


def offers_mask(offer: Offer) -> int:
    return days_mask(list(offer.availability))


def tier_of(km: float) -> float:
    return next((t for t in TIERS_KM if km <= t), _WIDE)


def group_of(demand: Demand) -> Group:
    """Demands that every rule but distance treats alike."""
    return (
        demand.needed,
        demand.needed_from,
        demand.max_price_eur,
        demand.seats,
        demand.languages,
        demand.beneficiary_age,
        demand.accepts_remote,
    )


@dataclass(slots=True)
class Reach:
    """Live, allowed offers within a waiting demand's distance: all, and the remote-capable."""

    near: int = 0
    near_remote: int = 0

    def key(self, demand: Demand) -> int:
        return self.near - (self.near_remote if demand.accepts_remote else 0)


@dataclass(slots=True)
class _Entry:
    demand: Demand
    seq: int
    reach: Reach
    label: NotFoundReason | None
    bucket: tuple[float, int]
    cell: Cell
    special: bool  # has excluded offers: not grouped
    group: Group = field(default=None)


class WaitingIndex:
    """Waiting demand ids by where they are and what they need; reasons by group."""

    def __init__(self) -> None:
        self._cells: dict[tuple[float, int], dict[Cell, set[str]]] = {}
        self._sizes: dict[tuple[float, int], int] = {}
        self._remote: dict[int, set[str]] = {}
        self._entries: dict[str, _Entry] = {}
        # group -> label -> near key -> ids; the group's sample demand
        self._groups: dict[Group, dict[NotFoundReason | None, dict[int, set[str]]]] = {}
        self._samples: dict[Group, Demand] = {}
        self.special: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, demand_id: object) -> bool:
        return demand_id in self._entries

    def seq(self, demand_id: str) -> int:
        return self._entries[demand_id].seq

    def reach(self, demand_id: str) -> Reach:
        return self._entries[demand_id].reach

    def add(
        self,
        demand: Demand,
        seq: int,
        reach: Reach,
        label: NotFoundReason | None,
        special: bool,
    ) -> None:
        self.remove(demand.id)
        bucket = (tier_of(demand.max_distance_km), needs_mask(demand))
        cell = cell_of(demand.lat, demand.lon)
        entry = _Entry(demand, seq, reach, label, bucket, cell, special)
        self._entries[demand.id] = entry
        self._cells.setdefault(bucket, {}).setdefault(cell, set()).add(demand.id)
        self._sizes[bucket] = self._sizes.get(bucket, 0) + 1
        if demand.accepts_remote:
            self._remote.setdefault(bucket[1], set()).add(demand.id)
        if special:
            self.special.add(demand.id)
        else:
            entry.group = group_of(demand)
            self._file(entry)

    def remove(self, demand_id: str) -> None:
        entry = self._entries.pop(demand_id, None)
        if entry is None:
            return
        cells = self._cells[entry.bucket]
        cells[entry.cell].discard(demand_id)
        if not cells[entry.cell]:
            del cells[entry.cell]
        self._sizes[entry.bucket] -= 1
        if not self._sizes[entry.bucket]:
            del self._sizes[entry.bucket], self._cells[entry.bucket]
        if entry.demand.accepts_remote:
            self._remote[entry.bucket[1]].discard(demand_id)
        self.special.discard(demand_id)
        if not entry.special:
            self._unfile(entry)

    def relabel(self, demand_id: str, label: NotFoundReason) -> None:
        entry = self._entries.get(demand_id)
        if entry is None or entry.label == label:
            return
        if not entry.special:
            self._unfile(entry)
        entry.label = label
        if not entry.special:
            self._file(entry)

    def moved(self, demand_id: str, near: int, near_remote: int) -> None:
        """Its reach changed by these amounts (an offer came, went or moved near it)."""
        entry = self._entries[demand_id]
        if not entry.special:
            self._unfile(entry)
        entry.reach.near += near
        entry.reach.near_remote += near_remote
        if not entry.special:
            self._file(entry)

    def _file(self, entry: _Entry) -> None:
        by_label = self._groups.setdefault(entry.group, {})
        self._samples.setdefault(entry.group, entry.demand)
        key = entry.reach.key(entry.demand)
        by_label.setdefault(entry.label, {}).setdefault(key, set()).add(entry.demand.id)

    def _unfile(self, entry: _Entry) -> None:
        by_label = self._groups[entry.group]
        by_key = by_label[entry.label]
        key = entry.reach.key(entry.demand)
        by_key[key].discard(entry.demand.id)
        if not by_key[key]:
            del by_key[key]
            if not by_key:
                del by_label[entry.label]
                if not by_label:
                    del self._groups[entry.group], self._samples[entry.group]

    # Looking up -------------------------------------------------------------------------

    def near(self, offer: Offer, *, serving: bool) -> set[str]:
        """Waiting demands that may have `offer` within their distance (a superset); when
        `serving`, only those whose needed days it is open on, remote-accepting ones too."""
        found: set[str] = set()
        mask = offers_mask(offer)
        if offer.lat is not None and offer.lon is not None:
            for bucket, cells in self._cells.items():
                tier, needs = bucket
                if serving and needs & ~mask:
                    continue
                km = tier if offer.radius_km is None else min(tier, offer.radius_km)
                box = None if tier == _WIDE else search_box(offer.lat, offer.lon, km)
                if box is None:
                    for ids in cells.values():
                        found |= ids
                elif box_size(*box) > len(cells):  # fewer occupied cells than in the box
                    (lat0, lon0), (lat1, lon1) = box
                    for (lat, lon), ids in cells.items():
                        if lat0 <= lat <= lat1 and lon0 <= lon <= lon1:
                            found |= ids
                else:
                    for cell in cells_in(*box):
                        found |= cells.get(cell, set())
        if serving and offer.remote:
            for needs, ids in self._remote.items():
                if not needs & ~mask:
                    found |= ids
        return found

    def groups(self) -> Iterator[tuple[Demand, dict[NotFoundReason | None, dict[int, set[str]]]]]:
        """Each group's sample demand and its waiting ids by reason last sent and `near`."""
        for group, by_label in self._groups.items():
            yield self._samples[group], by_label
