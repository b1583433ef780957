"""Real places in Isola, Garibaldi and Porta Nuova (Milan), WGS84, and a few far away."""

import math
from typing import NamedTuple


class Place(NamedTuple):
    street: str  # short name used in the demo's summary, e.g. "Via Borsieri"
    address: str
    lat: float
    lon: float

    def as_location(self) -> dict[str, object]:
        return {"address": self.address, "lat": self.lat, "lon": self.lon}


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


# Isola, Garibaldi, Porta Nuova: all within about 1.5 km of each other.
BORSIERI = Place("Via Borsieri", "Via Pietro Borsieri 14, 20159 Milano", 45.4878, 9.1896)
CARMAGNOLA = Place("Via Carmagnola", "Via Carmagnola 7, 20159 Milano", 45.4869, 9.1917)
CONFALONIERI = Place(
    "Via Confalonieri", "Via Federico Confalonieri 3, 20124 Milano", 45.4889, 9.1932
)
THAON_DI_REVEL = Place("Via Thaon di Revel", "Via Thaon di Revel 21, 20159 Milano", 45.4913, 9.1921)
ARCHINTO = Place("Piazzale Archinto", "Piazzale Archinto 1, 20159 Milano", 45.4893, 9.1900)
DE_CASTILLIA = Place(
    "Via de Castillia", "Via Gaetano de Castillia 26, 20124 Milano", 45.4857, 9.1925
)
GAE_AULENTI = Place("Piazza Gae Aulenti", "Piazza Gae Aulenti 1, 20124 Milano", 45.4838, 9.1903)
CORSO_COMO = Place("Corso Como", "Corso Como 10, 20154 Milano", 45.4817, 9.1865)
SEBENICO = Place("Via Sebenico", "Via Sebenico 22, 20159 Milano", 45.4903, 9.1868)
POLLAIUOLO = Place("Via Pollaiuolo", "Via Antonio Pollaiuolo 5, 20159 Milano", 45.4916, 9.1879)
VOLTURNO = Place("Via Volturno", "Via Volturno 35, 20124 Milano", 45.4884, 9.1951)
COLA_MONTANO = Place("Via Cola Montano", "Via Cola Montano 8, 20159 Milano", 45.4877, 9.1879)
PORRO_LAMBERTENGHI = Place(
    "Via Porro Lambertenghi", "Via Porro Lambertenghi 18, 20159 Milano", 45.4889, 9.1873
)
GARIGLIANO = Place("Via Garigliano", "Via Garigliano 5, 20159 Milano", 45.4889, 9.1962)
PASTRENGO = Place("Via Pastrengo", "Via Pastrengo 14, 20159 Milano", 45.4864, 9.1889)
PEPE = Place("Via Pepe", "Via Guglielmo Pepe 30, 20159 Milano", 45.4881, 9.1858)
ALVAR_AALTO = Place("Piazza Alvar Aalto", "Piazza Alvar Aalto 1, 20124 Milano", 45.4843, 9.1918)
MONTE_GRAPPA = Place("Viale Monte Grappa", "Viale Monte Grappa 12, 20124 Milano", 45.4807, 9.1898)
STELVIO = Place("Viale Stelvio", "Viale Stelvio 50, 20159 Milano", 45.4932, 9.1893)

# Far from Isola (3.5–5 km), so distance matters.
SAN_SIRO = Place("San Siro", "Piazzale Angelo Moratti, 20151 Milano", 45.4781, 9.1240)
NAVIGLI = Place("Navigli", "Alzaia Naviglio Grande 4, 20144 Milano", 45.4522, 9.1770)
BICOCCA = Place("Bicocca", "Piazza dell'Ateneo Nuovo 1, 20126 Milano", 45.5141, 9.2111)
LAMBRATE = Place("Lambrate", "Piazza Bottini 1, 20133 Milano", 45.4847, 9.2368)
