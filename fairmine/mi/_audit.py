"""``MIAudit``: a skorch callback that measures the MI of ``z`` with a fresh critic."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback

from .._devices import cuda_devices
from ._estimate import estimate_mi

__all__ = ["MIAudit"]


class MIAudit(Callback):
    """Record, every few epochs, what a fresh critic finds about the attribute in ``z``.

    The training critic's ``train_mi`` scores the very batches that the encoder
    learns to hide the attribute from, so it can read near 0 while ``z``
    still carries the attribute. This callback encodes a set of rows with the
    current encoder and runs [`estimate_mi`][fairmine.estimate_mi] on them, with the
    estimator's ``criterion`` (the positive rows only for equal opportunity,
    conditioned on ``y`` for equalized odds). It records ``audit_mi`` and its
    standard error ``audit_mi_std`` (nats) in ``history_``; other epochs have
    no entry. The audit leaves the training untouched: a model trained with
    it is the model trained without it.

    The rows are those of the validation split when the estimator has a
    ``train_split``; otherwise the training rows (whose ``z`` the encoder was
    fitted on: the fresh critic is still trained and tested on separate parts
    of them, but only held-out rows show what the model does on new data).

    Parameters
    ----------
    every : int, default=5
        Audit at every ``every``-th epoch and at the last one.
    max_rows : int or None, default=2000
        Audit a random subset of at most this many rows (fixed per fit);
        None audits them all.
    random_state : int, default=0
        Seeds the subset and [`estimate_mi`][fairmine.estimate_mi].
    **estimate_mi_kwargs
        Further arguments of [`estimate_mi`][fairmine.estimate_mi], such as
        ``max_steps``.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import ValidSplit
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.mi import MIAudit
    >>> rng = np.random.RandomState(0)
    >>> group = rng.randint(0, 2, 300)
    >>> X = np.c_[rng.normal(size=(300, 3)), group + rng.normal(scale=0.1, size=300)]
    >>> clf = MIUnbiasedClassifier(max_epochs=5, lr=1e-2,
    ...     train_split=ValidSplit(0.25, random_state=0),
    ...     callbacks=[MIAudit(every=1, max_steps=200)], random_state=0)
    >>> clf = clf.fit(X, X[:, 0] > 0, sensitive_features=group)
    >>> sorted(k for k in clf.history_[-1] if k.startswith("audit"))
    ['audit_mi', 'audit_mi_std']
    """

    def __init__(
        self,
        every: int = 5,
        max_rows: int | None = 2000,
        random_state: int = 0,
        **estimate_mi_kwargs,
    ) -> None:
        self.every = every
        self.max_rows = max_rows
        self.random_state = random_state
        self.estimate_mi_kwargs = estimate_mi_kwargs

    def initialize(self) -> MIAudit:
        """Check the arguments (skorch calls this before training)."""
        if not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"MIAudit's every must be an int >= 1, got {self.every!r}")
        if self.max_rows is not None and self.max_rows < 10:
            raise ValueError(f"MIAudit's max_rows must be None or >= 10, got {self.max_rows!r}")
        return self

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters, the keyword arguments of ``estimate_mi`` included."""
        params = {"every": self.every, "max_rows": self.max_rows}
        return {**params, "random_state": self.random_state, **self.estimate_mi_kwargs}

    def on_epoch_end(
        self, net: Any, dataset_train: Any = None, dataset_valid: Any = None, **kwargs: Any
    ) -> None:
        """Audit at the chosen epochs."""
        epoch = len(net.history)
        if epoch % self.every and epoch != net.max_epochs:
            return
        dataset = dataset_valid if dataset_valid is not None else dataset_train
        # the audit must not change what it audits: iterating a DataLoader draws a seed
        # from torch's random state, which the training goes on to use
        with torch.random.fork_rng(devices=cuda_devices(net.device)):
            z, c, y = net.representations(dataset)
        if c is None:
            raise ValueError(
                "MIAudit needs the sensitive attribute: pass sensitive_features to fit."
            )
        if self.max_rows is not None and len(z) > self.max_rows:
            rows = np.random.RandomState(self.random_state).choice(len(z), self.max_rows, False)
            z, c, y = z[rows], c[rows], y[rows]
        z, c, given, _ = net.mi_criterion.select(z, c, y)
        mi, std_error = estimate_mi(
            z,
            c,
            given=given,
            sensitive_encoding="passthrough",
            return_std=True,
            random_state=self.random_state,
            **self.estimate_mi_kwargs,
        )
        net.history.record("audit_mi", mi)
        net.history.record("audit_mi_std", std_error)
