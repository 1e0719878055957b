"""``MIUnbiasedRegressor``: fairmine's estimator for continuous targets."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_y
from torch import nn

from ._estimator import _check_length, _MIUnbiasedBase, _refuse_arguments, _sample_weight
from ._target import standardise_target
from ._validation import naming
from .exceptions import DegenerateModelWarning
from .mi import Criterion, DependencePenalty

__all__ = ["MIUnbiasedRegressor"]

#: the regressor's task losses, on the standardised target (``loss``)
_REGRESSION_LOSSES = {"squared_error": nn.MSELoss, "huber": nn.HuberLoss}


class MIUnbiasedRegressor(RegressorMixin, _MIUnbiasedBase):
    """Regressor whose representation carries little information about a sensitive attribute.

    The method of [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier]
    (Ragonesi et al.'s Algorithm 1) on a continuous target: the encoder ``g``
    maps ``x`` to ``z``, a linear head predicts ``y`` from ``z``, and training
    alternates critic updates with encoder updates on
    ``regression loss + mi_weight * MI estimate``. The engine, the critic and
    every parameter below other than ``loss`` and ``n_bins`` are the
    classifier's, with the same meaning and defaults (see
    [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier]); ``pos_label``
    does not exist here.

    The target is standardised inside ``fit`` (``target_mean_``,
    ``target_scale_``): the network learns ``(y - mean) / std``, so that
    ``lr`` and the Huber threshold do not depend on the target's units, and
    ``predict`` returns values in the units of ``y``.

    Parameters
    ----------
    loss : {"squared_error", "huber"}, default="squared_error"
        The task loss, on the standardised target: the mean squared error,
        or the Huber loss with threshold 1 (one standard deviation of ``y``),
        which grows linearly beyond it and so weighs outliers less.
    criterion : {"demographic_parity", "equalized_odds"}, default="demographic_parity"
        Which information about the attribute is removed.
        ``"demographic_parity"``: ``I(Z; C)``, so that the distribution of
        the prediction does not depend on the group (statistical parity for
        regression; audit it with [`mean_prediction_gap`][fairmine.metrics.mean_prediction_gap]
        and [`prediction_ks_distance`][fairmine.metrics.prediction_ks_distance]).
        ``"equalized_odds"``: ``I(Z; C | Y)`` with ``y`` cut into ``n_bins``
        quantile bins of the training target: among rows of similar ``y``
        the representation, hence the prediction and its error, should not
        depend on the group (separation; audit it with
        [`group_mae_gap`][fairmine.metrics.group_mae_gap]). ``"equal_opportunity"`` needs
        a positive class and is refused.
    n_bins : int, default=4
        Quantile bins of ``y`` that ``"equalized_odds"`` conditions on (fewer
        when the target has ties at the quantiles; see
        ``target_bin_edges_``). Ignored by ``"demographic_parity"``.
    mi_weight, penalty, embedding_dim, hidden_units, backbone, mi_update, \
clip_mi_gradient, sensitive_encoding, max_epochs, lr, batch_size, optimizer, \
device, callbacks, train_split, verbose, random_state
        As in [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier]. With a ``train_split``,
        ``history_`` records ``valid_task_loss`` (no ``valid_acc``).

    Attributes
    ----------
    target_mean_ : float
        Mean of the training target.
    target_scale_ : float
        Its standard deviation (1 for a constant target).
    target_bin_edges_ : ndarray
        Inner edges of the quantile bins of the standardised target that
        ``"equalized_odds"`` conditions on.
    n_features_in_, feature_names_in_, critic_steps_, critic_bank_size_, \
net_, history_
        As in [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier].

    See Also
    --------
    MIUnbiasedClassifier : the same method for class labels.
    fairmine.metrics.mean_prediction_gap : group gap in mean prediction.

    Examples
    --------
    >>> import numpy as np
    >>> from fairmine import MIUnbiasedRegressor
    >>> rng = np.random.RandomState(0)
    >>> group = rng.randint(0, 2, 200)
    >>> X = np.c_[rng.normal(size=(200, 3)), group + rng.normal(scale=0.1, size=200)]
    >>> y = 10 * X[:, 0] + 50
    >>> reg = MIUnbiasedRegressor(max_epochs=20, lr=1e-2, random_state=0)
    >>> reg.fit(X, y, sensitive_features=group).predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.8)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **_MIUnbiasedBase._parameter_constraints,
        "loss": [StrOptions(set(_REGRESSION_LOSSES))],
        "n_bins": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        *,
        loss: str = "squared_error",
        n_bins: int = 4,
        mi_weight: float = 1.0,
        criterion: str = "demographic_parity",
        penalty: str | DependencePenalty = "donsker_varadhan",
        embedding_dim: int = 8,
        hidden_units: Sequence[int] = (64,),
        backbone: nn.Module | None = None,
        mi_update: str = "joint",
        clip_mi_gradient: str | None = "per_tensor",
        sensitive_encoding: str = "auto",
        max_epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 64,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        device: str | torch.device = "cpu",
        callbacks: list | None = None,
        train_split: Callable | None = None,
        verbose: int = 0,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.loss = loss
        self.n_bins = n_bins
        self.mi_weight = mi_weight
        self.criterion = criterion
        self.penalty = penalty
        self.embedding_dim = embedding_dim
        self.hidden_units = hidden_units
        self.backbone = backbone
        self.mi_update = mi_update
        self.clip_mi_gradient = clip_mi_gradient
        self.sensitive_encoding = sensitive_encoding
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.train_split = train_split
        self.verbose = verbose
        self.random_state = random_state

    def _task_net_params(self) -> dict[str, Any]:
        """Return the engine's task settings: one output and the regression loss."""
        return {"criterion": _REGRESSION_LOSSES[self.loss], "n_outputs": 1}

    def _encode_target(self, y: Any, n_samples: int, sample_weight: Any = None) -> np.ndarray:
        """Standardise ``y`` into a float32 column; keep its mean, scale and quantile bins.

        The statistics are weighted by ``sample_weight``, so that a weight
        stands for repeated rows.
        """
        with naming("y", "must be a 1-D array-like of numbers"):
            y = _check_y(y, y_numeric=True, estimator=self).astype(np.float64)
            _check_length(y, n_samples)
        weight = _sample_weight(sample_weight, None, n_samples)
        self.target_mean_, self.target_scale_, standard = standardise_target(y, weight)
        # weighted quantiles (numpy's "inverted_cdf"): the smallest y whose cumulative weight
        # reaches each fraction
        order = np.argsort(standard, kind="stable")
        cumulative = np.cumsum(np.ones(n_samples) if weight is None else weight[order])
        fractions = np.linspace(0, 1, self.n_bins + 1)[1:-1] * cumulative[-1]
        self.target_bin_edges_ = np.unique(standard[order][np.searchsorted(cumulative, fractions)])
        return standard.astype(np.float32).reshape(-1, 1)

    def _mi_criterion(self) -> Criterion:
        """Return the criterion, with ``y``'s quantile bins as the groups of the conditional one."""
        if self.criterion == "equal_opportunity":
            raise ValueError(
                "criterion='equal_opportunity' conditions on a positive class, which a "
                "continuous target does not have. MIUnbiasedRegressor takes "
                "'demographic_parity' (I(Z; C)) or 'equalized_odds' (I(Z; C | Y), with y in "
                "n_bins quantile bins)."
            )
        if self.criterion == "demographic_parity":
            return Criterion(self.criterion)
        edges = tuple(float(edge) for edge in self.target_bin_edges_)
        return Criterion(self.criterion, n_classes=len(edges) + 1, edges=edges)

    def _warn_if_degenerate(self, X: Any, y: np.ndarray, weight: np.ndarray | None) -> None:
        """Warn when the model does no better than the mean on its training data."""
        predicted = self._run_module("forward", X)[:, 0]
        r2 = r2_score(y[:, 0], predicted, sample_weight=weight)
        if r2 > 0:
            return
        warnings.warn(
            f"the fitted model is no better than predicting the mean on its training data "
            f"(training R^2 {r2:.3f}). Lower mi_weight (now {self.mi_weight!r}), use the "
            f"criterion of the metric you audit (now {self.criterion!r}), or train longer "
            f"(max_epochs={self.max_epochs!r}, lr={self.lr!r}).",
            DegenerateModelWarning,
            stacklevel=4,
        )

    def predict(self, X: ArrayLike, **kwargs: Any) -> np.ndarray:
        """Predicted targets, in the units of ``y``, from ``X`` alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        **kwargs
            None accepted; ``sensitive_features`` gets an error that says
            the attribute is used by ``fit`` only.

        Returns
        -------
        ndarray of shape (n_samples,), dtype float64
            The head's output, mapped back from the standardised target.
        """
        _refuse_arguments("predict", kwargs)
        standard = self._apply("forward", X)[:, 0].astype(np.float64)
        return standard * self.target_scale_ + self.target_mean_

    def score(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **kwargs: Any
    ) -> float:
        """Coefficient of determination R^2 on ``X`` and ``y``, from ``X`` alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Sample weights.
        **kwargs
            None accepted; ``sensitive_features`` gets an error that says
            the attribute is used by ``fit`` only (score fairness with
            [`fairmine.metrics`](metrics.md)).

        Returns
        -------
        float
            R^2 of ``predict(X)``.
        """
        _refuse_arguments("score", kwargs)
        return super().score(X, y, sample_weight=sample_weight)
