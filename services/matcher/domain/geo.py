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
