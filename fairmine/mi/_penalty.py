"""The dependence penalty: what one training step of the estimator asks of it.

A training step of [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier] encodes a
minibatch, keeps the rows of its fairness criterion
([`Criterion.select`][fairmine.mi.Criterion.select]: all rows, or the positive ones, with
the class of ``y`` as the conditioning group for equalized odds) and then asks
its penalty for two things, whatever the penalty is:

1. [`DependencePenalty.update`][fairmine.mi.DependencePenalty.update]: an inner update on the
   detached rows (the K critic updates of Donsker-Varadhan, one likelihood step of CLUB,
   nothing for a closed-form penalty);
2. [`DependencePenalty.penalty`][fairmine.mi.DependencePenalty.penalty]: the differentiable penalty
   on the current rows, under their weights, and the value the step logs
   (``train_mi``).

Around the steps, a fit builds the penalty's parts from its training rows
([`initialize`][fairmine.mi.DependencePenalty.initialize]), their optimizers, and gives it the
encoder's rows at the start of each epoch (a critic's warm-up). A penalty is
a scikit-learn style object: its constructor arguments are its settings,
readable and settable with ``get_params``/``set_params`` and so searchable
with the estimator's nested names (``penalty__bandwidth``); what a fit builds
ends with an underscore.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import Tensor

from ._marginals import DiscreteMarginal, ShuffledMarginal, make_marginal

__all__ = [
    "DependencePenalty",
    "EpochRows",
    "PenaltySetup",
    "Rows",
    "enough_rows",
    "group_weights",
]

#: the rows the penalty is measured on: ``z``, ``c``, the conditioning group (or None), weights
#: (or None), as [`Criterion.select`][fairmine.mi.Criterion.select] returns them
Rows = tuple[Tensor, Tensor, Tensor | None, Tensor | None]


def enough_rows(z: Tensor, weight: Tensor | None) -> bool:
    """Whether a minibatch can form a penalty: two rows or more, some weight."""
    return len(z) >= 2 and (weight is None or bool(weight.sum() > 0))


def group_weights(rows: Rows, n_groups: int) -> tuple[Tensor, Tensor]:
    """Return the weight of each row in each conditioning group, and each group's share.

    A conditional dependence ``D(Z; C | G) = sum_g p(g) D(Z; C | G = g)`` is
    the dependence within each group, averaged by the groups' weight. Both are
    computed without reading a value back from the device.

    Parameters
    ----------
    rows : Rows
        ``z``, ``c``, the group of each row (or None: one group) and the
        sample weights (or None: all 1).
    n_groups : int
        Number of groups; 0 or 1 without conditioning.

    Returns
    -------
    weights : Tensor of shape (n_groups or 1, n)
        Row ``g`` holds the rows' weights within group ``g``, normalised to
        sum to 1 (all 0 for a group absent from the rows).
    shares : Tensor of shape (n_groups or 1,)
        Each group's share of the total weight.
    """
    z, _, given, weight = rows
    weight = torch.ones(len(z), dtype=z.dtype, device=z.device) if weight is None else weight
    if given is None or n_groups <= 1:
        members = weight.unsqueeze(0)
    else:
        members = torch.nn.functional.one_hot(given, n_groups).T.to(z.dtype) * weight
    totals = members.sum(1)
    tiny = torch.finfo(z.dtype).tiny
    return members / totals.clamp_min(tiny).unsqueeze(1), totals / totals.sum().clamp_min(tiny)


@dataclass(frozen=True)
class PenaltySetup:
    """What a penalty is built from: the criterion's training rows and the net's shapes.

    Parameters
    ----------
    c : ndarray of shape (n, d_c)
        The encoded attribute of the criterion's training rows.
    given : ndarray of shape (n,) of int or None
        Their conditioning group, or None.
    n_groups : int
        Number of conditioning groups (0: none).
    weight : ndarray of shape (n,) or None
        Their sample weights, or None.
    embedding_dim : int
        Size of ``z``.
    batch_size : int
        Rows of the encoder's minibatches.
    device : str or torch.device
        Where the penalty's parts live.
    """

    c: np.ndarray
    given: np.ndarray | None
    n_groups: int
    weight: np.ndarray | None
    embedding_dim: int
    batch_size: int
    device: str | torch.device

    def marginal(self) -> DiscreteMarginal | ShuffledMarginal:
        """Return the marginal term of these rows ([`make_marginal`][fairmine.mi.make_marginal])."""
        return make_marginal(
            self.c, self.given, self.n_groups or None, self.device, weight=self.weight
        )


@dataclass(frozen=True)
class EpochRows:
    """The encoder's detached rows at the start of an epoch, for a penalty that trains.

    Parameters
    ----------
    one_pass : callable
        Returns an iterator over the epoch's minibatches, once, as ``Rows``.
    cycle : callable
        Returns an endless iterator of fresh minibatches, as ``Rows``.
    """

    one_pass: Callable[[], Iterator[Rows]]
    cycle: Callable[[], Iterator[Rows]]


class DependencePenalty(BaseEstimator):
    """Base class of the dependence penalties: the interface of the training step.

    A subclass implements [`penalty`][fairmine.mi.DependencePenalty.penalty], and where it trains
    something, [`initialize`][fairmine.mi.DependencePenalty.initialize],
    [`initialize_optimizers`][fairmine.mi.DependencePenalty.initialize_optimizers],
    [`update`][fairmine.mi.DependencePenalty.update] (and
    [`begin_epoch`][fairmine.mi.DependencePenalty.begin_epoch]). The fitted copy a net uses is a
    ``clone`` of the object the estimator was given, which stays unfitted.

    Attributes
    ----------
    inner_steps_ : int
        Inner updates made before each encoder update (0: none).
    bank_size_ : int
        Rows of the representation bank the inner updates draw from (0: none).
    """

    inner_steps_: int = 0
    bank_size_: int = 0

    def initialize(self, setup: PenaltySetup) -> dict[str, Any]:
        """Build the penalty's parts from the training rows.

        Parameters
        ----------
        setup : PenaltySetup

        Returns
        -------
        dict
            The parts the net holds as ``name_`` (torch modules among them
            move to its device and are saved with it); none by default.
        """
        self._validate_params()
        self.n_groups_ = setup.n_groups
        return {}

    def initialize_optimizers(self) -> dict[str, Any]:
        """Build the optimizers of the parts; returns them by name, as `initialize`."""
        return {}

    def begin_fit(self, encoder_flops: Callable[[], float], batch_size: int) -> None:
        """Settle what depends on the built encoder, once per fit (nothing by default).

        Parameters
        ----------
        encoder_flops : callable
            Returns the FLOPs of the encoder's forward pass on one minibatch.
        batch_size : int
            Rows of the encoder's minibatches.
        """

    def begin_epoch(self, rows: EpochRows) -> int:
        """See the encoder's rows at the start of an epoch; return the inner updates made (0)."""
        return 0

    def update(self, rows: Rows) -> int:
        """Make the inner update on the step's detached rows; return the updates made (0)."""
        return 0

    def penalty(self, rows: Rows, training: bool = True) -> tuple[Tensor, Tensor]:
        """Return the value to log and the objective the encoder differentiates.

        Parameters
        ----------
        rows : Rows
            The criterion's rows of the minibatch, ``z`` attached to the encoder.
        training : bool, default=True
            False on validation batches (no state is updated).

        Returns
        -------
        value : Tensor
            The dependence estimate, logged as ``train_mi``/``valid_mi``.
        objective : Tensor
            Same value; its gradient is the one the encoder follows.
        """
        raise NotImplementedError

    def end_fit(self) -> None:
        """Drop the state of the fit's loop, so that the fitted net pickles."""

    def advice(self) -> str:
        """Return the settings worth changing when training diverges (none by default)."""
        return ""
