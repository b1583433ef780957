"""Where to look for offers near a demand: a grid of ~1 km cells, remote offers aside.

The index only narrows the search; the rules decide. It must never leave out an offer the
rules would accept (a property test checks it against a full scan).

`FreeIndex` holds only the offers that can take a demand now (live, with a free seat) and
hands them out best-first: grid cells by the best score any offer in them could have (from
the cell's nearest point), remote-capable offers by price. The caller stops as soon as the
next bound cannot beat the best offer found, so the search visits the few cells that
matter however dense the market is."""

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from services.matcher.domain.geo import (
    Cell,
    box_size,
    cell_of,
    cells_in,
    min_km_to_cell,
    search_box,
)
from services.matcher.domain.model import Demand, Offer


class OfferIndex(Protocol):
    def add(self, offer: Offer) -> None: ...
    def remove(self, offer_id: str) -> None: ...
    def near(self, demand: Demand) -> set[str]:
        """Ids of every indexed offer that might be reachable from the demand."""
        ...


class GridIndex:
    """Offers with a place by grid cell; remote offers in a set of their own."""

    def __init__(self, cells_before_scan: int = 0) -> None:
        # Walk the cells unless there are more of them than offers (and than this floor,
        # which tests raise so that the cells are walked even for a handful of offers).
        self._cells_before_scan = cells_before_scan
        self._cells: dict[Cell, set[str]] = {}
        self._cell_of: dict[str, Cell] = {}
        self._remote: set[str] = set()

    def add(self, offer: Offer) -> None:
        self.remove(offer.id)
        if offer.lat is not None and offer.lon is not None:
            cell = cell_of(offer.lat, offer.lon)
            self._cells.setdefault(cell, set()).add(offer.id)
            self._cell_of[offer.id] = cell
        if offer.remote:
            self._remote.add(offer.id)

    def remove(self, offer_id: str) -> None:
        _leave_cell(self._cells, self._cell_of, offer_id)
        self._remote.discard(offer_id)

    def near(self, demand: Demand) -> set[str]:
        found = set(self._remote) if demand.accepts_remote else set()
        box = search_box(demand.lat, demand.lon, demand.max_distance_km)
        if box is None or box_size(*box) > max(self._cells_before_scan, len(self._cell_of)):
            found.update(self._cell_of)  # fewer offers than cells to look at: scan them
        else:
            for cell in cells_in(*box):
                found.update(self._cells.get(cell, ()))
        return found


class FreeIndex:
    """Offers with a free seat by grid cell, remote-capable ones also by (price, id)."""

    def __init__(self) -> None:
        self._cells: dict[Cell, set[str]] = {}
        self._cell_of: dict[str, Cell] = {}
        self._remote: list[tuple[float, str]] = []  # sorted
        self._price: dict[str, float] = {}  # of the remote-capable ones
        self._ids: set[str] = set()

    def __contains__(self, offer_id: object) -> bool:
        return offer_id in self._ids

    def add(self, offer: Offer) -> None:
        self.remove(offer.id)
        self._ids.add(offer.id)
        if offer.lat is not None and offer.lon is not None:
            cell = cell_of(offer.lat, offer.lon)
            self._cells.setdefault(cell, set()).add(offer.id)
            self._cell_of[offer.id] = cell
        if offer.remote:
            bisect.insort(self._remote, (offer.price_eur, offer.id))
            self._price[offer.id] = offer.price_eur

    def remove(self, offer_id: str) -> None:
        if offer_id not in self._ids:
            return
        self._ids.discard(offer_id)
        _leave_cell(self._cells, self._cell_of, offer_id)
        price = self._price.pop(offer_id, None)
        if price is not None:
            del self._remote[bisect.bisect_left(self._remote, (price, offer_id))]

    def best_first(
        self,
        demand: Demand,
        bound_within: Callable[[float], float],
        bound_remote: Callable[[float], float],
    ) -> Iterator[tuple[float, Iterable[str]]]:
        """Batches of offer ids, each with a bound no offer in it (or in a later batch)
        can score above: `bound_within(km)` for the offers at least km away,
        `bound_remote(price)` for the offers served remotely at that price or more. Every
        offer that could serve the demand is in some batch whose bound is at least its
        score (remote-capable ones may come twice)."""
        cells: list[tuple[float, Cell]] = []
        box = search_box(demand.lat, demand.lon, demand.max_distance_km)
        if box is None:
            if self._cell_of:
                yield float("inf"), list(self._cell_of)  # near a pole: no bound, scan all
        else:
            (lat0, lon0), (lat1, lon1) = box
            if box_size(*box) > len(self._cells):
                occupied: Iterable[Cell] = [
                    c for c in self._cells if lat0 <= c[0] <= lat1 and lon0 <= c[1] <= lon1
                ]
            else:
                occupied = [c for c in cells_in(*box) if c in self._cells]
            for cell in occupied:
                km = min_km_to_cell(demand.lat, demand.lon, cell)
                if km <= demand.max_distance_km:
                    cells.append((bound_within(km), cell))
            cells.sort(reverse=True)
        remote = self._remote if demand.accepts_remote else []
        i = r = 0
        while i < len(cells) or r < len(remote):
            near = cells[i][0] if i < len(cells) else float("-inf")
            far = bound_remote(remote[r][0]) if r < len(remote) else float("-inf")
            if near >= far:
                yield near, list(self._cells[cells[i][1]])
                i += 1
            else:
                yield far, (remote[r][1],)
                r += 1


def _leave_cell(cells: dict[Cell, set[str]], cell_of: dict[str, Cell], offer_id: str) -> None:
    """Take the offer out of its grid cell, dropping the cell once empty."""
    cell = cell_of.pop(offer_id, None)
    if cell is not None:
        ids = cells[cell]
        ids.discard(offer_id)
        if not ids:
            del cells[cell]
