"""``estimate_mi``: MI of a representation with an attribute, from a fresh critic."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array
from torch import nn

from .._devices import check_device, cuda_devices
from .._mlp import check_layer_widths
from .._sensitive import (
    SENSITIVE_ENCODINGS,
    SensitiveEncoding,
    encode_sensitive_features,
    warn_if_constant,
)
from .._validation import naming
from ._critic import CRITIC_TYPES, Marginal, critic_step, evaluate_bound, make_critic
from ._marginals import make_marginal

__all__ = ["estimate_mi"]

#: fewer samples than this cannot be split into three usable parts
MIN_SAMPLES = 10


@validate_params(
    {
        "Z": ["array-like"],
        "C": ["array-like"],
        "given": ["array-like", None],
        "sensitive_encoding": [StrOptions(set(SENSITIVE_ENCODINGS))],
        "critic_type": [StrOptions(set(CRITIC_TYPES))],
        "critic_hidden": ["array-like"],
        "max_steps": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "validation_size": [Interval(Real, 0, 1, closed="neither")],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "eval_every": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "return_std": ["boolean"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def estimate_mi(
    Z: ArrayLike,
    C: Any,
    *,
    given: ArrayLike | None = None,
    sensitive_encoding: SensitiveEncoding = "auto",
    critic_type: str = "concat",
    critic_hidden: Sequence[int] = (64, 64),
    max_steps: int = 3000,
    lr: float = 1e-3,
    batch_size: int = 256,
    validation_size: float = 0.2,
    test_size: float = 0.3,
    eval_every: int = 100,
    patience: int = 5,
    return_std: bool = False,
    random_state: int | np.random.RandomState | None = 0,
    device: str | torch.device = "cpu",
) -> float | tuple[float, float]:
    """Estimate the mutual information between a representation and an attribute.

    A fresh MINE critic (the Donsker-Varadhan bound) is trained on one part of
    the samples, the training step whose bound is highest on a second,
    validation part is kept, and the bound is reported on a third, test part
    that was used neither to train nor to select the critic. With ``given``
    the estimate is the conditional ``I(Z; C | given)``: the critic reads the
    class of ``given`` and the marginal term draws ``C`` within each class.

    Use it to audit how much information about ``C`` any representation
    (fairmine's ``transform`` output, a baseline's hidden layer, raw
    features) still carries, on rows the representation was not fitted on.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_features)
        The representation; standardised internally (MI is invariant to it).
    C : array-like of shape (n_samples,) or (n_samples, n_columns)
        The attribute, encoded with the same rules as
        ``MIUnbiasedClassifier(sensitive_encoding=...)``.
    given : array-like of shape (n_samples,) or None, default=None
        Class labels to condition on (such as the true ``y``): the estimate
        is then ``I(Z; C | given) = sum_y p(y) I(Z; C | given = y)``.
        Continuous or missing values are refused.
    sensitive_encoding : {"auto", "categorical", "continuous", "passthrough"}, default="auto"
        How ``C`` is encoded.
    critic_type : {"concat", "classifier", "auto"}, default="concat"
        The fresh critic's network (as ``DonskerVaradhan(critic_type=...)``):
        MINE's statistics network on ``[z, c]``, or, for an attribute with at
        most 32 distinct values, a classifier of ``C`` from ``Z`` whose bound
        is ``H(C) - cross-entropy`` on the test part (``"auto"``: the
        classifier when it applies). The default stays ``"concat"``, the
        network that fairmine's published figures were measured with; it is
        also a different family from the estimator's default critic for such
        attributes, so an audit does not share the training critic's blind
        spots.
    critic_hidden : sequence of int, default=(64, 64)
        Hidden widths of the fresh critic.
    max_steps : int, default=3000
        Largest number of Adam steps on the training part.
    lr : float, default=1e-3
        Adam learning rate of the critic.
    batch_size : int, default=256
        Minibatch size of the critic updates.
    validation_size : float, default=0.2
        Fraction of samples used to choose the critic's training step.
    test_size : float, default=0.3
        Fraction of samples on which the estimate is reported.
    eval_every : int, default=100
        Steps between evaluations on the validation part.
    patience : int, default=5
        Evaluations without improvement before stopping.
    return_std : bool, default=False
        Also return the standard error of the estimate.
    random_state : int, RandomState instance or None, default=0
        Seeds the split, the critic and its minibatches.
    device : str, default="cpu"
        Torch device for the critic.

    Returns
    -------
    mi : float
        The test-part Donsker-Varadhan estimate in nats.
    std_error : float
        Only with ``return_std=True``: its standard error (delta method over
        the test rows). It describes the noise of the test rows for the chosen
        critic, not the noise of training the critic.

    Notes
    -----
    The DV value of any critic is a lower bound on the true MI, so the
    estimate is biased downwards by however much the critic falls short of
    the optimal one (more with few samples, high-dimensional ``Z`` or large
    MI). Values slightly below zero mean "no detectable information"; a small
    positive value is never proof of independence, only of what this critic
    could find.

    Examples
    --------
    >>> import numpy as np
    >>> from fairmine import estimate_mi
    >>> rng = np.random.RandomState(0)
    >>> c = rng.randint(0, 4, 1000)
    >>> z = np.eye(4)[c] + rng.normal(scale=0.05, size=(1000, 4))
    >>> mi, std_error = estimate_mi(z, c, return_std=True)
    >>> round(mi, 1), bool(std_error < 0.05)  # ln 4 = 1.386
    (1.4, True)
    """
    check_device(device)
    check_layer_widths(critic_hidden, "critic_hidden", "the critic's layer widths")
    with naming("Z", "must be a numeric array-like of shape (n_samples, n_features)"):
        Z = check_array(Z, dtype=np.float32, input_name="Z")
    c = encode_sensitive_features(C, encoding=sensitive_encoding, name="C")
    _check_rows(Z, c, "C")
    groups, n_groups = None, 0
    if given is not None:
        groups, n_groups = _encode_given(given)
        _check_rows(Z, groups, "given")
    if validation_size + test_size >= 1:
        raise ValueError(
            f"validation_size + test_size must leave a training part, got "
            f"{validation_size} + {test_size} >= 1."
        )
    if len(Z) < MIN_SAMPLES:
        raise ValueError(
            f"estimate_mi needs at least {MIN_SAMPLES} samples (rows of Z and C) to train, "
            f"select and test a critic, got {len(Z)}."
        )
    if warn_if_constant(c, "C", "estimate_mi returns 0 (standard error 0)."):
        return (0.0, 0.0) if return_std else 0.0
    rng = check_random_state(random_state)
    parts = _three_way_split(len(Z), validation_size, test_size, rng)
    scaler = StandardScaler().fit(Z[parts[0]])
    values = np.unique(c, axis=0)  # the parts' exact marginal terms list them alike
    data = [
        _part(
            scaler.transform(Z[rows]),
            c[rows],
            None if groups is None else groups[rows],
            n_groups,
            values,
            device,
        )
        for rows in parts
    ]
    with torch.random.fork_rng(devices=cuda_devices(device)):
        torch.manual_seed(rng.randint(np.iinfo(np.int32).max))
        critic = make_critic(
            critic_type, data[0][0], Z.shape[1], c.shape[1], tuple(critic_hidden), n_groups
        ).to(device)
        _train_critic(critic, data[0], data[1], max_steps, lr, batch_size, eval_every, patience)
        value, std_error = evaluate_bound(critic, *data[2])
    return (value, std_error) if return_std else value


def _encode_given(given: ArrayLike) -> tuple[np.ndarray, int]:
    """Return the class index of each row of ``given`` and the number of classes."""
    requirement = "must be a 1-D array-like of class labels"
    with naming("given", requirement):
        labels = check_array(
            given, ensure_2d=False, dtype=None, ensure_all_finite=False, input_name="given"
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.ravel()
    if labels.ndim != 1:
        raise ValueError(f"given {requirement}, got an array of shape {labels.shape}.")
    if pd.isna(labels).any():
        raise ValueError("given contains missing values (NaN/None); drop or fill those rows.")
    if labels.dtype.kind in "fc" and not np.isfinite(labels).all():
        raise ValueError("given contains infinite values; it must hold class labels.")
    try:
        classes, groups = np.unique(labels, return_inverse=True)
    except TypeError as error:  # labels of mixed types, such as strings and numbers
        raise TypeError(
            f"given {requirement} of one type (all numbers or all strings): {error}"
        ) from error
    if type_of_target(labels) == "continuous":
        raise ValueError(
            f"given {requirement} (such as the true y), got continuous values; bin them first."
        )
    return groups, len(classes)


def _check_rows(Z: np.ndarray, other: np.ndarray, name: str) -> None:
    if other.shape[0] != Z.shape[0]:
        raise ValueError(
            f"{name} has {other.shape[0]} rows but Z has {Z.shape[0]}; they must match."
        )


def _three_way_split(
    n: int, validation_size: float, test_size: float, rng: np.random.RandomState
) -> list[np.ndarray]:
    """Row indices of the training, validation and test parts (each at least two rows)."""
    rows = np.arange(n)
    rest, test = train_test_split(rows, test_size=max(test_size, 2 / n), random_state=rng)
    share = max(validation_size / (1 - test_size), 2 / len(rest))
    train, validation = train_test_split(rest, test_size=share, random_state=rng)
    return [train, validation, test]


def _part(
    z: np.ndarray,
    c: np.ndarray,
    groups: np.ndarray | None,
    n_groups: int,
    values: np.ndarray,
    device: Any,
) -> tuple[Marginal, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Return one part as ``evaluate_bound``'s arguments after the critic.

    They are the part's own marginal term (from its own frequencies of the
    attribute ``values``), ``z``, ``c`` and the groups.
    """
    as_tensor = lambda a, dtype: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)  # noqa: E731
    given = None if groups is None else as_tensor(groups, torch.int64)
    marginal = make_marginal(c, groups, n_groups or None, device=device, values=values)
    return marginal, as_tensor(z, torch.float32), as_tensor(c, torch.float32), given


def _train_critic(
    critic: nn.Module,
    train: tuple,
    validation: tuple,
    max_steps: int,
    lr: float,
    batch_size: int,
    eval_every: int,
    patience: int,
) -> None:
    """Train a fresh critic; leave it at the step with the best validation bound."""
    marginal, z, c, given = train
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    batch_size = min(batch_size, len(z))
    best, best_state, since_best = -np.inf, copy.deepcopy(critic.state_dict()), 0
    for step in range(1, max_steps + 1):
        rows = torch.randint(len(z), (batch_size,), device=z.device)
        critic_step(critic, optimizer, marginal, z[rows], c[rows], _rows(given, rows))
        if step % eval_every and step != max_steps:
            continue
        value, _ = evaluate_bound(critic, *validation)
        if value > best:
            best, best_state, since_best = value, copy.deepcopy(critic.state_dict()), 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    critic.load_state_dict(best_state)


def _rows(values: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
    return None if values is None else values[rows]
