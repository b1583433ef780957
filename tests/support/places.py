"""Real places in and around Isola (Milan), WGS84, for readable test data."""

from typing import NamedTuple


class Place(NamedTuple):
    address: str
    lat: float
    lon: float

    def as_location(self) -> dict[str, object]:
        return {"address": self.address, "lat": self.lat, "lon": self.lon}


# Isola, Garibaldi, Porta Nuova: all within about 1.5 km of each other.
PIAZZALE_ARCHINTO = Place("Piazzale Archinto 1, 20159 Milano", 45.4893, 9.1900)
VIA_BORSIERI = Place("Via Pietro Borsieri 14, 20159 Milano", 45.4878, 9.1896)
VIA_CARMAGNOLA = Place("Via Carmagnola 7, 20159 Milano", 45.4869, 9.1917)
VIA_CONFALONIERI = Place("Via Federico Confalonieri 3, 20124 Milano", 45.4889, 9.1932)
VIA_THAON_DI_REVEL = Place("Via Thaon di Revel 21, 20159 Milano", 45.4913, 9.1921)
PIAZZA_GAE_AULENTI = Place("Piazza Gae Aulenti 1, 20124 Milano", 45.4838, 9.1903)
CORSO_COMO = Place("Corso Como 10, 20154 Milano", 45.4817, 9.1865)
STAZIONE_GARIBALDI = Place("Piazza Sigmund Freud 1, 20154 Milano", 45.4846, 9.1874)
VIA_DE_CASTILLIA = Place("Via Gaetano de Castillia 11, 20124 Milano", 45.4857, 9.1925)
# Far from Isola (more than 3 km), so distance matters.
SAN_SIRO = Place("Piazzale Angelo Moratti, 20151 Milano", 45.4781, 9.1240)
NAVIGLI = Place("Alzaia Naviglio Grande 4, 20144 Milano", 45.4522, 9.1770)
BICOCCA = Place("Piazza dell'Ateneo Nuovo 1, 20126 Milano", 45.5141, 9.2111)
