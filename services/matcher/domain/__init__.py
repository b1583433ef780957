"""The matching rules and the match lifecycle, pure (no I/O): `rules.py` (one function per
rule), `scoring.py`, `lifecycle.py` (match states, answers, ends), `market.py` (index, held
seats, waiting list, matches), `events.py`, `decisions.py`, `model.py` (Offer, Demand),
`geo.py`."""
