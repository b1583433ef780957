"""Concilia: the welfare-matching backbone of the Concilia 4.0 Isola network."""
