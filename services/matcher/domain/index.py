"""Where to look for offers near a demand: a grid of ~1 km cells, remote offers aside.

The index only narrows the search; the rules decide. It must never leave out an offer the
rules would accept (a property test checks it against a full scan)."""

from typing import Protocol

from services.matcher.domain.geo import Cell, box_size, cell_of, cells_in, search_box
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
        cell = self._cell_of.pop(offer_id, None)
        if cell is not None:
            ids = self._cells[cell]
            ids.discard(offer_id)
            if not ids:
                del self._cells[cell]
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
