"""How many live offers lie within a demand's distance, counted without looking at most of
them: offers by bands of latitude (~550 m high), in each band sorted by longitude.

In a band, the offers whose longitude is within `inner` of the demand's are surely within
its distance, those beyond `outer` surely not: both are worked out once per band from the
haversine formula (a = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2), at the band's worst and best
latitude), and counted with two bisections. Only the offers in between, a thin ring along
the edge of the disc, are measured one by one, exactly as the rules measure them
(`rules.within_distance_at`). Margins keep both bounds on the safe side of float error, so
the count is exactly the rules' count.

An offer's own radius limits its reach too: offers are kept apart by radius (few distinct
values in practice), each group counted with the tighter of the two limits."""

import bisect
import math
from collections.abc import Iterable

from services.matcher.domain.geo import EARTH_RADIUS_KM, haversine_km, search_box
from services.matcher.domain.model import Demand, Offer

BAND_DEGREES = 0.005
_SAFE = 1e-7  # relative margin on the distances of the bounds


def band_of(lat: float) -> int:
    return math.floor(lat / BAND_DEGREES)


class _Band:
    """Offers of one band and one radius, by longitude (with their latitude and id)."""

    def __init__(self) -> None:
        self.lons: list[float] = []
        self.lats: list[float] = []
        self.ids: list[str] = []

    def add(self, lat: float, lon: float, offer_id: str) -> None:
        i = bisect.bisect_right(self.lons, lon)
        self.lons.insert(i, lon)
        self.lats.insert(i, lat)
        self.ids.insert(i, offer_id)

    def remove(self, lon: float, offer_id: str) -> None:
        i = bisect.bisect_left(self.lons, lon)
        while self.ids[i] != offer_id:
            i += 1
        del self.lons[i], self.lats[i], self.ids[i]


class ReachCounter:
    """Located live offers by radius and band of latitude; counts those within reach."""

    def __init__(self) -> None:
        self._bands: dict[float | None, dict[int, _Band]] = {}
        self._where: dict[str, tuple[float | None, int, float]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def add(self, offer: Offer) -> None:
        self.remove(offer.id)
        if offer.lat is None or offer.lon is None:
            return
        band = band_of(offer.lat)
        self._bands.setdefault(offer.radius_km, {}).setdefault(band, _Band()).add(
            offer.lat, offer.lon, offer.id
        )
        self._where[offer.id] = (offer.radius_km, band, offer.lon)

    def remove(self, offer_id: str) -> None:
        where = self._where.pop(offer_id, None)
        if where is None:
            return
        radius, band, lon = where
        bands = self._bands[radius]
        bands[band].remove(lon, offer_id)
        if not bands[band].ids:
            del bands[band]
            if not bands:
                del self._bands[radius]

    def within(self, demand: Demand) -> int | None:
        """How many offers are within the demand's distance (and their own radius), or
        None when the disc reaches a pole or the antimeridian (the caller counts them
        one by one)."""
        if search_box(demand.lat, demand.lon, demand.max_distance_km) is None:
            return None
        count = 0
        for radius, bands in self._bands.items():
            km = demand.max_distance_km if radius is None else min(demand.max_distance_km, radius)
            count += _count(demand.lat, demand.lon, km, bands)
        return count


def _count(lat: float, lon: float, km: float, bands: dict[int, _Band]) -> int:
    """Offers of `bands` within `km` of (lat, lon): bisected inside, measured at the edge
    (km is the tighter of the demand's max distance and the offers' radius: the rule)."""
    s_in = math.sin(km * (1 - _SAFE) / (2 * EARTH_RADIUS_KM)) ** 2
    s_out = math.sin(min(math.pi / 2, km * (1 + _SAFE) / (2 * EARTH_RADIUS_KM) + 1e-12)) ** 2
    dlat = math.degrees(km / EARTH_RADIUS_KM) * (1 + _SAFE) + 1e-9
    low, high = band_of(lat - dlat), band_of(lat + dlat)
    if high - low + 1 > len(bands):
        keys: Iterable[int] = sorted(b for b in bands if low <= b <= high)
    else:
        keys = (b for b in range(low, high + 1) if b in bands)
    phi = math.radians(lat)
    cos_phi = math.cos(phi)
    count = 0
    for key in keys:
        band = bands[key]
        # The band's latitudes, widened a hair for float error in band_of.
        lat0 = key * BAND_DEGREES - 1e-9
        lat1 = (key + 1) * BAND_DEGREES + 1e-9
        near = 0.0 if lat0 <= lat <= lat1 else min(abs(lat - lat0), abs(lat - lat1))
        far = max(abs(lat - lat0), abs(lat - lat1))
        cos0, cos1 = math.cos(math.radians(lat0)), math.cos(math.radians(lat1))
        outer = _half_width(s_out, math.sin(math.radians(near) / 2) ** 2, cos_phi * min(cos0, cos1))
        if outer is None:
            continue  # no point of the band is within reach
        inner = _half_width(s_in, math.sin(math.radians(far) / 2) ** 2, cos_phi * max(cos0, cos1))
        lons, lats = band.lons, band.lats
        out0 = bisect.bisect_left(lons, lon - outer * (1 + _SAFE) - 1e-9)
        out1 = bisect.bisect_right(lons, lon + outer * (1 + _SAFE) + 1e-9)
        if inner is None:
            edges = [range(out0, out1)]
        else:
            inner = inner * (1 - _SAFE)
            in0 = max(out0, bisect.bisect_left(lons, lon - inner))
            in1 = min(out1, max(in0, bisect.bisect_right(lons, lon + inner)))
            edges = [range(out0, in0), range(in1, out1)]
            count += in1 - in0
        for edge in edges:
            # haversine_km(offer, demand) <= km: the rules' own computation, to the bit.
            count += sum(1 for i in edge if haversine_km(lats[i], lons[i], lat, lon) <= km)
    return count


def _half_width(s: float, lat_term: float, cos_product: float) -> float | None:
    """The Δλ (degrees) with lat_term + cos_product · sin²(Δλ/2) = s: None if even Δλ = 0
    is beyond s; 180 if every Δλ is within."""
    if lat_term > s:
        return None
    if cos_product <= 0:
        return 180.0
    ratio = (s - lat_term) / cos_product
    if ratio >= 1:
        return 180.0
    return math.degrees(2 * math.asin(math.sqrt(ratio)))
