"""The four Concilia services; each starts with `python -m services.<name>`."""
