"""Input checks shared by the estimator and ``estimate_mi``: errors that name the argument."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["naming"]


@contextmanager
def naming(name: str, requirement: str) -> Iterator[None]:
    """Make a ``ValueError`` or ``TypeError`` raised inside name the argument it is about.

    scikit-learn's and numpy's checks often say what is wrong without saying
    which argument: an error whose message lacks ``name`` (as a word) is
    raised again as ``"{name} {requirement}: {original message}"``, of the same
    kind (``TypeError`` or ``ValueError``), chained to the original.

    Parameters
    ----------
    name : str
        The argument's name, such as ``"X"``.
    requirement : str
        What the argument must be, such as ``"must be a 2-D numeric array-like"``.
    """
    try:
        yield
    except (ValueError, TypeError) as error:
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", str(error)):
            raise
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{name} {requirement}: {error}") from error
