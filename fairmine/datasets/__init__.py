"""Data sets used to evaluate fairmine."""

from ._adult import load_adult
from ._colored_mnist import DEFAULT_PALETTE, fetch_mnist, make_colored_mnist
from ._communities import load_communities
from ._german import load_german
from ._imdb import IMDB_AGE_BINS, IMDBFaces, load_imdb_faces

__all__ = [
    "DEFAULT_PALETTE",
    "IMDB_AGE_BINS",
    "IMDBFaces",
    "fetch_mnist",
    "load_adult",
    "load_communities",
    "load_german",
    "load_imdb_faces",
    "make_colored_mnist",
]
