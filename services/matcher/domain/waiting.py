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
are looked at. Demands with excluded offers are few (declines) and looked at one by one.

Kept lazily: a new offer only raises `near`, so a demand whose last reason was not `too_far`
only has to be looked at once its possibly stale (too low) `near` reaches the threshold; a
new offer updates only the others (`too_far`, not yet told, excluded offers), whose exact
count matters at every change. Offers leaving or moving update every demand near them.
A count is exact again whenever the market recounts it (`set_reach`).

Who first: each bucket also keeps its demands by coarse cell (a few km wide) in submission
order, so a new offer or a freed seat merges the queues around it and looks only at the
oldest demands until its seats are gone, not at every demand in reach."""

import bisect
import heapq
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from concilia.contract.matches import NotFoundReason
from services.matcher.domain.geo import Cell, box_size, cell_of, cells_in, search_box
from services.matcher.domain.model import Demand, Offer

TIERS_KM = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)  # beyond: scanned for every offer
QUEUE_CELLS = 3  # a queue cell is 3 × 3 grid cells (about 3.3 × 2.4 km in Milan)
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


Bucket = tuple[float, int]  # (distance tier, needed days)
Queued = tuple[int, str]  # (seq, demand id): a queue is sorted by submission


def queue_cell(cell: Cell) -> Cell:
    return cell[0] // QUEUE_CELLS, cell[1] // QUEUE_CELLS


@dataclass(slots=True)
class _Entry:
    demand: Demand
    seq: int
    reach: Reach
    label: NotFoundReason | None
    bucket: Bucket
    cell: Cell
    special: bool  # has excluded offers: not grouped
    group: Group = field(default=None)
    eager: bool = True  # its reach is kept exact at every offer change
    counted_at: int = 0  # `arrivals` when its reach was last exact


class _Grid:
    """Ids by bucket and grid cell."""

    def __init__(self) -> None:
        self.cells: dict[Bucket, dict[Cell, set[str]]] = {}

    def add(self, entry: _Entry) -> None:
        self.cells.setdefault(entry.bucket, {}).setdefault(entry.cell, set()).add(entry.demand.id)

    def remove(self, entry: _Entry) -> None:
        cells = self.cells[entry.bucket]
        cells[entry.cell].discard(entry.demand.id)
        if not cells[entry.cell]:
            del cells[entry.cell]
            if not cells:
                del self.cells[entry.bucket]

    def near(self, lat: float, lon: float, radius_km: float | None, found: set[str]) -> None:
        """Add the ids that may have an offer at (lat, lon) within their distance."""
        for (tier, _), cells in self.cells.items():
            km = tier if radius_km is None else min(tier, radius_km)
            box = None if tier == _WIDE else search_box(lat, lon, km)
            if box is None:
                for ids in cells.values():
                    found |= ids
            elif box_size(*box) > len(cells):  # fewer occupied cells than in the box
                (lat0, lon0), (lat1, lon1) = box
                for (row, col), ids in cells.items():  # grid cells, not degrees
                    if lat0 <= row <= lat1 and lon0 <= col <= lon1:
                        found |= ids
            else:
                for cell in cells_in(*box):
                    found |= cells.get(cell, set())


class ByNear:
    """Waiting ids of one group and label by their `near` key, the keys kept sorted: the
    ones on one side of a threshold are found without looking at the others."""

    def __init__(self) -> None:
        self.ids: dict[int, set[str]] = {}
        self.keys: list[int] = []

    def __bool__(self) -> bool:
        return bool(self.ids)

    def add(self, key: int, demand_id: str) -> None:
        ids = self.ids.get(key)
        if ids is None:
            ids = self.ids[key] = set()
            bisect.insort(self.keys, key)
        ids.add(demand_id)

    def discard(self, key: int, demand_id: str) -> None:
        ids = self.ids[key]
        ids.discard(demand_id)
        if not ids:
            del self.ids[key], self.keys[bisect.bisect_left(self.keys, key)]

    def at_most(self, threshold: int) -> list[int]:
        return self.keys[: bisect.bisect_right(self.keys, threshold)]

    def above(self, threshold: int) -> list[int]:
        return self.keys[bisect.bisect_right(self.keys, threshold) :]


def _inside(cell: Cell, box: tuple[Cell, Cell]) -> bool:
    (lat0, lon0), (lat1, lon1) = box
    return lat0 <= cell[0] <= lat1 and lon0 <= cell[1] <= lon1


class WaitingIndex:
    """Waiting demand ids by where they are and what they need; reasons by group."""

    def __init__(self) -> None:
        self._all = _Grid()
        self._eager = _Grid()  # those whose reach is kept exact at every offer change
        self._queues: dict[Bucket, dict[Cell, list[Queued]]] = {}
        self._remote: dict[int, list[Queued]] = {}  # remote-accepting, by needed days
        self._entries: dict[str, _Entry] = {}
        # group -> label -> near key -> ids; the group's sample demand
        self._groups: dict[Group, dict[NotFoundReason | None, ByNear]] = {}
        self._samples: dict[Group, Demand] = {}
        self.special: set[str] = set()
        self.arrivals = 0  # offers that arrived without updating the lazy reaches

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, demand_id: object) -> bool:
        return demand_id in self._entries

    def seq(self, demand_id: str) -> int:
        return self._entries[demand_id].seq

    def reach(self, demand_id: str) -> Reach | None:
        """Its reach, if known exactly (else the market counts it: `set_reach`)."""
        entry = self._entries[demand_id]
        return entry.reach if entry.eager or entry.counted_at == self.arrivals else None

    def set_reach(self, demand_id: str, reach: Reach) -> None:
        """Its exact reach, just counted."""
        entry = self._entries[demand_id]
        if not entry.special:
            self._unfile(entry)
        entry.reach = reach
        entry.counted_at = self.arrivals
        if not entry.special:
            self._file(entry)

    def arrived(self) -> None:
        """An offer with a place arrived; only the eager reaches were updated."""
        self.arrivals += 1

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
        entry.eager = self._eager_for(entry)
        entry.counted_at = self.arrivals
        self._entries[demand.id] = entry
        self._all.add(entry)
        if entry.eager:
            self._eager.add(entry)
        queued = (seq, demand.id)
        bisect.insort(self._queues.setdefault(bucket, {}).setdefault(queue_cell(cell), []), queued)
        if demand.accepts_remote:
            bisect.insort(self._remote.setdefault(bucket[1], []), queued)
        if special:
            self.special.add(demand.id)
        else:
            entry.group = group_of(demand)
            self._file(entry)

    def remove(self, demand_id: str) -> None:
        entry = self._entries.pop(demand_id, None)
        if entry is None:
            return
        self._all.remove(entry)
        if entry.eager:
            self._eager.remove(entry)
        queued = (entry.seq, demand_id)
        queues = self._queues[entry.bucket]
        queue = queues[queue_cell(entry.cell)]
        del queue[bisect.bisect_left(queue, queued)]
        if not queue:
            del queues[queue_cell(entry.cell)]
            if not queues:
                del self._queues[entry.bucket]
        if entry.demand.accepts_remote:
            remote = self._remote[entry.bucket[1]]
            del remote[bisect.bisect_left(remote, queued)]
            if not remote:
                del self._remote[entry.bucket[1]]
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
        eager = self._eager_for(entry)
        if eager != entry.eager:
            # Lazy → eager happens right after the market counted its reach (`_why_not`).
            (self._eager.add if eager else self._eager.remove)(entry)
            entry.eager = eager

    @staticmethod
    def _eager_for(entry: _Entry) -> bool:
        """Its exact reach matters at every change: told `too_far` (a new offer near it may
        change that), not told yet, or with offers of its own excluded."""
        return entry.special or entry.label in (None, NotFoundReason.TOO_FAR)

    def moved(self, demand_id: str, near: int, near_remote: int) -> None:
        """Its reach changed by these amounts (an offer came, went or moved near it). A lazy
        reach moves too: a lower bound of `near` stays one."""
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
        by_label.setdefault(entry.label, ByNear()).add(key, entry.demand.id)

    def _unfile(self, entry: _Entry) -> None:
        by_label = self._groups[entry.group]
        by_key = by_label[entry.label]
        by_key.discard(entry.reach.key(entry.demand), entry.demand.id)
        if not by_key:
            del by_label[entry.label]
            if not by_label:
                del self._groups[entry.group], self._samples[entry.group]

    # Looking up -------------------------------------------------------------------------

    def near(self, offer: Offer, *, eager_only: bool = False) -> set[str]:
        """Waiting demands that may have `offer` within their distance (a superset): all, or
        only those whose reach is kept exact at every change."""
        found: set[str] = set()
        if offer.lat is not None and offer.lon is not None:
            grid = self._eager if eager_only else self._all
            grid.near(offer.lat, offer.lon, offer.radius_km, found)
        return found

    def oldest_first(self, offer: Offer) -> Iterator[str]:
        """Waiting demands the offer might serve (a superset: near it and needing only days
        it is open on, remote-accepting ones too if it serves remotely), oldest first. The
        queues around it are merged lazily, so the caller pays for what it looks at; it may
        take the demand it was given out of the index before asking for the next."""
        mask = offers_mask(offer)
        queues: list[tuple[list[Queued], tuple[Cell, Cell] | None]] = []  # with a cell box
        if offer.lat is not None and offer.lon is not None:
            for (tier, needs), cells in self._queues.items():
                if needs & ~mask:
                    continue
                km = tier if offer.radius_km is None else min(tier, offer.radius_km)
                box = None if tier == _WIDE else search_box(offer.lat, offer.lon, km)
                if box is None:
                    queues.extend((q, None) for q in cells.values())
                    continue
                (lat0, lon0), (lat1, lon1) = (queue_cell(corner) for corner in box)
                if (lat1 - lat0 + 1) * (lon1 - lon0 + 1) > len(cells):
                    queues.extend(
                        (q, box)
                        for (lat, lon), q in cells.items()
                        if lat0 <= lat <= lat1 and lon0 <= lon <= lon1
                    )
                else:
                    queues.extend(
                        (q, box)
                        for cell in cells_in((lat0, lon0), (lat1, lon1))
                        if (q := cells.get(cell)) is not None
                    )
        if offer.remote:
            queues.extend((q, None) for needs, q in self._remote.items() if not needs & ~mask)
        heap = [(q[0], n, q) for n, (q, _) in enumerate(queues) if q]
        heapq.heapify(heap)
        last: Queued | None = None
        while heap:
            queued, n, queue = heap[0]
            box, entry = queues[n][1], self._entries.get(queued[1])
            if queued != last and entry and (box is None or _inside(entry.cell, box)):
                last = queued  # a remote-accepting demand may be in two queues
                yield queued[1]
            # Found again by value: the caller may have taken the demand out meanwhile.
            i = bisect.bisect_right(queue, queued)
            if i < len(queue):
                heapq.heapreplace(heap, (queue[i], n, queue))
            else:
                heapq.heappop(heap)

    def groups(self) -> Iterator[tuple[Demand, dict[NotFoundReason | None, ByNear]]]:
        """Each group's sample demand and its waiting ids by reason last sent and `near`."""
        for group, by_label in self._groups.items():
            yield self._samples[group], by_label
