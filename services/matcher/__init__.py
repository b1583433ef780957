"""The matcher: pairs offers and demands (rules in `domain/`), emits welfare.matches.v1."""
