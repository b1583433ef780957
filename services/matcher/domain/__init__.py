"""The matching rules, pure (no I/O): `rules.py` (one function per rule), `scoring.py`,
`market.py` (index, reservations, waiting list), `model.py` (Offer, Demand), `geo.py`."""
