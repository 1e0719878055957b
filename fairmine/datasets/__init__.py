"""Data sets used to evaluate fairmine."""

from ._german import load_german

__all__ = ["load_german"]
