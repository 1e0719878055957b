"""Input checks shared by the estimator and ``estimate_mi``: errors that name the argument."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from sklearn.utils._param_validation import HasMethods

__all__ = ["OPTIMIZER_CLASS", "naming"]


class _OptimizerClass(HasMethods):
    """scikit-learn's parameter constraint of an optimizer class: a ``torch.optim.Optimizer``.

    The plain ``type`` constraint accepts ``int``, which fails only when the
    optimizer is built, in an error that names neither the argument nor the cause.
    (A ``HasMethods``, one of the constraint kinds scikit-learn's validation takes.)
    """

    def __init__(self) -> None:
        super().__init__(["step", "zero_grad"])

    def is_satisfied_by(self, val: Any) -> bool:
        return isinstance(val, type) and issubclass(val, torch.optim.Optimizer)

    def __str__(self) -> str:
        return "a subclass of torch.optim.Optimizer, such as torch.optim.Adam (the class)"


#: the constraint of every optimizer parameter (``optimizer``, ``DonskerVaradhan(optimizer=)``)
OPTIMIZER_CLASS = _OptimizerClass()


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
