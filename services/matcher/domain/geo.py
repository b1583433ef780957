"""Great-circle distance and the grid cells that can hold points within a distance."""

import math
from collections.abc import Iterator

EARTH_RADIUS_KM = 6371.0088
CELL_DEGREES = 0.01  # about 1.1 km of latitude, 0.8 km of longitude in Milan

Cell = tuple[int, int]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km between two WGS84 points on a spherical Earth."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def cell_of(lat: float, lon: float) -> Cell:
    return math.floor(lat / CELL_DEGREES), math.floor(lon / CELL_DEGREES)


def search_box(lat: float, lon: float, km: float) -> tuple[Cell, Cell] | None:
    """The lowest and highest cell of a box holding every point within `km` of (lat, lon),
    or None when the box reaches a pole or the antimeridian (the caller scans everything).

    Exact bounds from the haversine formula: a ≥ sin²(Δφ/2) gives Δφ ≤ d/R, and
    a ≥ cos φ1 cos φ2 sin²(Δλ/2) gives sin(Δλ/2) ≤ sin(d/2R) / min cos φ. A small margin
    absorbs floating-point error, so the grid never misses an offer the brute force finds."""
    margin = 1 + 1e-6
    dlat = math.degrees(km / EARTH_RADIUS_KM) * margin + 1e-9
    if abs(lat) + dlat >= 90:
        return None
    ratio = math.sin(km / (2 * EARTH_RADIUS_KM)) / math.cos(math.radians(abs(lat) + dlat))
    if ratio >= 1:
        return None
    dlon = math.degrees(2 * math.asin(ratio)) * margin + 1e-9
    if lon - dlon < -180 or lon + dlon > 180:
        return None
    return cell_of(lat - dlat, lon - dlon), cell_of(lat + dlat, lon + dlon)


def cells_in(low: Cell, high: Cell) -> Iterator[Cell]:
    return ((i, j) for i in range(low[0], high[0] + 1) for j in range(low[1], high[1] + 1))


def box_size(low: Cell, high: Cell) -> int:
    return (high[0] - low[0] + 1) * (high[1] - low[1] + 1)


def min_km_to_cell(lat: float, lon: float, cell: Cell) -> float:
    """A lower bound of the distance in km from (lat, lon) to any point of `cell` (not
    across a pole or the antimeridian: the caller only asks inside a `search_box`).

    Term by term from the haversine formula: a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2) is
    at least its value with the smallest |Δφ|, |Δλ| and cos φ2 the cell allows. The cell is
    widened and the result shrunk by a margin, so float error never makes it too large."""
    edge = 1e-9
    lat0, lat1 = cell[0] * CELL_DEGREES - edge, (cell[0] + 1) * CELL_DEGREES + edge
    lon0, lon1 = cell[1] * CELL_DEGREES - edge, (cell[1] + 1) * CELL_DEGREES + edge
    dlat = lat0 - lat if lat < lat0 else lat - lat1 if lat > lat1 else 0.0
    dlon = lon0 - lon if lon < lon0 else lon - lon1 if lon > lon1 else 0.0
    if dlat <= 0 and dlon <= 0:
        return 0.0
    cos_min = min(math.cos(math.radians(lat0)), math.cos(math.radians(lat1)))
    a = (
        math.sin(math.radians(dlat) / 2) ** 2
        + math.cos(math.radians(lat)) * max(0.0, cos_min) * math.sin(math.radians(dlon) / 2) ** 2
    )
    km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
    return max(0.0, km * (1 - 1e-6) - 1e-6)
