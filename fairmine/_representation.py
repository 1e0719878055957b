"""``MIUnbiasedTransformer``: fairmine's representation as a pre-processing step for any model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._classifier import MIUnbiasedClassifier
from ._regressor import MIUnbiasedRegressor
from ._validation import naming
from .mi import DependencePenalty, DonskerVaradhan

__all__ = ["MIUnbiasedTransformer"]

#: the parameters handed to the engine (an MIUnbiasedClassifier or MIUnbiasedRegressor) as they are
_ENGINE_PARAMS = (
    "mi_weight",
    "criterion",
    "embedding_dim",
    "hidden_units",
    "backbone",
    "mi_update",
    "clip_mi_gradient",
    "sensitive_encoding",
    "max_epochs",
    "lr",
    "batch_size",
    "optimizer",
    "device",
    "callbacks",
    "train_split",
    "verbose",
    "random_state",
)

#: critic updates per encoder update of ``penalty="auto"``
REPRESENTATION_CRITIC_STEPS = 10

#: the ``type_of_target`` kind that ``task="auto"`` gives the regressor (every other kind goes to
#: the classifier, whose validation names what is wrong with ``y``)
_REGRESSION_TARGET = "continuous"


class MIUnbiasedTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Representation ``z`` that carries little information about a sensitive attribute.

    A transformer for a scikit-learn ``Pipeline`` in front of any model (a
    gradient-boosted model, a logistic regression chosen by a risk team, a
    model owned by another party): ``fit`` trains fairmine's engine, an
    [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier] for class labels or an
    [`MIUnbiasedRegressor`][fairmine.MIUnbiasedRegressor] for a continuous target, on
    ``X``, ``y`` and ``sensitive_features``, and ``transform`` returns its
    representation ``z`` of ``X`` alone, standardised on the training rows.
    The attribute is needed at ``fit`` only; with metadata routing on, a
    ``Pipeline`` routes ``sensitive_features`` to this step without a
    ``set_fit_request`` call (without routing, pass
    ``<step name>__sensitive_features``).

    What carries over to the downstream model: any model that reads only
    ``z`` reads no more about the attribute than ``z`` holds (data
    processing), so the information the penalty removed stays removed
    whatever the model. What does not: ``z`` is trained against a critic
    of finite capacity, so a downstream model may still find the part the
    critic missed, and a downstream model trained on its own objective
    (another target, reweighted rows) is not held to the criterion's
    fairness metric; audit its predictions (see the guide "Fair
    representations for any model").

    Parameters
    ----------
    mi_weight : float, default=1.0
        Weight lambda of the penalty, as in [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier].
    criterion : {"demographic_parity", "equalized_odds", "equal_opportunity"}, \
            default="demographic_parity"
        Which information about the attribute is removed, as in
        [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier]; a regression target takes the first
        two (``"equalized_odds"`` conditions on quantile bins of ``y``).
    pos_label : label or None, default=None
        The positive class of ``"equal_opportunity"``; ignored for a
        regression target.
    penalty : "auto", str or fairmine.mi.DependencePenalty, default="auto"
        The dependence penalty, as in [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier].
        ``"auto"`` is [`DonskerVaradhan`][fairmine.mi.DonskerVaradhan] with ``steps=10``
        critic updates per encoder update and ``critic_type="auto"`` (a
        classifier of the attribute from ``z`` for an attribute of at most 32
        values, MINE's statistics network otherwise). The estimators'
        default critic (the statistics network, 3 updates per step on a
        small MLP encoder) lags behind the encoder: it is enough for the
        estimator's own head but leaves in ``z`` what a fresh probe reads
        back; more critic updates, and a classifier critic, leave less (the
        measurements are in the guide "Fair representations for any
        model").
    embedding_dim, hidden_units, backbone, mi_update, clip_mi_gradient, \
sensitive_encoding, max_epochs, lr, batch_size, optimizer, device, callbacks, \
train_split, verbose, random_state
        As in [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier].
    task : {"auto", "classification", "regression"}, default="auto"
        The engine: ``"classification"`` trains an
        [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier] (cross-entropy on class labels),
        ``"regression"`` an [`MIUnbiasedRegressor`][fairmine.MIUnbiasedRegressor] (squared error on
        the standardised target). ``"auto"`` takes classification for binary
        or multi-class labels and regression for a continuous target.
    standardize : bool, default=True
        Centre each unit of ``z`` on its training mean and divide it by its
        training standard deviation (units constant in training are only
        centred). A model read through scaled features (a regularised
        linear model, an MLP, k nearest neighbours) then sees every unit on
        one scale; ``z`` itself, a ReLU layer, has arbitrary scales and a
        mass at 0. Tree models are indifferent to it.

    Attributes
    ----------
    estimator_ : MIUnbiasedClassifier or MIUnbiasedRegressor
        The fitted engine; ``estimator_.history_`` holds its training
        history.
    task_ : str
        ``"classification"`` or ``"regression"``.
    mean_ : ndarray of shape (embedding_dim,)
        Training mean of each unit of ``z`` (0 without ``standardize``).
    scale_ : ndarray of shape (embedding_dim,)
        Training standard deviation of each unit (1 without
        ``standardize``, and for a constant unit).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    MIUnbiasedClassifier : the classifier whose ``transform`` is the raw ``z``.
    fairmine.estimate_mi : audit what ``z`` still carries.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from fairmine import MIUnbiasedTransformer
    >>> rng = np.random.RandomState(0)
    >>> group = rng.randint(0, 2, 200)
    >>> X = np.c_[rng.normal(size=(200, 3)), group + rng.normal(scale=0.1, size=200)]
    >>> y = (X[:, 0] > 0).astype(int)
    >>> model = make_pipeline(
    ...     MIUnbiasedTransformer(max_epochs=5, lr=1e-2, random_state=0), LogisticRegression()
    ... )
    >>> model.fit(X, y, miunbiasedtransformer__sensitive_features=group).predict(X[:3]).shape
    (3,)
    >>> model[0].get_feature_names_out()[:2].tolist()
    ['miunbiasedtransformer0', 'miunbiasedtransformer1']
    """

    __metadata_request__fit: ClassVar[dict] = {"sensitive_features": True}

    _parameter_constraints: ClassVar[dict] = {
        **{
            name: MIUnbiasedClassifier._parameter_constraints[name]
            for name in (*_ENGINE_PARAMS, "pos_label")
        },
        "penalty": [StrOptions({"auto"}), *MIUnbiasedClassifier._parameter_constraints["penalty"]],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "standardize": ["boolean"],
    }

    def __init__(
        self,
        *,
        mi_weight: float = 1.0,
        criterion: str = "demographic_parity",
        pos_label: Any = None,
        penalty: str | DependencePenalty = "auto",
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
        task: str = "auto",
        standardize: bool = True,
    ) -> None:
        self.mi_weight = mi_weight
        self.criterion = criterion
        self.pos_label = pos_label
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
        self.task = task
        self.standardize = standardize

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        sensitive_features: Any = None,
        sample_weight: ArrayLike | None = None,
    ) -> MIUnbiasedTransformer:
        """Train the engine on ``X``, ``y`` and the attribute; keep the scale of ``z``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs, numeric (with a ``backbone``, any shape it takes).
        y : array-like of shape (n_samples,)
            The task the representation must serve: class labels or numbers.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns), \
                default=None
            The attribute whose information ``z`` should not carry, as in
            [`MIUnbiasedClassifier.fit`][fairmine.MIUnbiasedClassifier.fit]; None trains
            plain ERM and warns.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Weights of the rows, as in
            [`MIUnbiasedClassifier.fit`][fairmine.MIUnbiasedClassifier.fit].

        Returns
        -------
        self : MIUnbiasedTransformer
            The fitted transformer.
        """
        self._validate_params()
        task = self._task(y)
        engine = self._engine(task).fit(
            X, y, sensitive_features=sensitive_features, sample_weight=sample_weight
        )
        z = engine.transform(X)
        mean, scale = np.zeros(z.shape[1]), np.ones(z.shape[1])
        if self.standardize:  # weighted like the fit: a weight stands for repeated rows
            weight = None if sample_weight is None else np.asarray(sample_weight, np.float64)
            mean = np.average(z, axis=0, weights=weight)
            scale = np.sqrt(np.average((z - mean) ** 2, axis=0, weights=weight))
            scale[scale < 1e-6] = 1.0  # a constant unit is centred, not blown up
        # set only once the engine is trained: a refused or failed fit leaves self as it was
        self.estimator_, self.task_ = engine, task
        self.mean_, self.scale_ = mean.astype(np.float32), scale.astype(np.float32)
        for name in ("n_features_in_", "feature_names_in_"):  # as the engine validated X
            if hasattr(engine, name):
                setattr(self, name, getattr(engine, name))
            else:
                self.__dict__.pop(name, None)
        self._n_features_out = z.shape[1]
        return self

    def transform(self, X: ArrayLike, **kwargs: Any) -> np.ndarray:
        """Return the representation ``z`` of ``X``, standardised by the training scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        **kwargs
            None accepted; ``sensitive_features`` gets an error that says
            the attribute is used by ``fit`` only.

        Returns
        -------
        ndarray of shape (n_samples, embedding_dim), dtype float32
            ``(z - mean_) / scale_``.
        """
        check_is_fitted(self)
        return (self.estimator_.transform(X, **kwargs) - self.mean_) / self.scale_

    def _task(self, y: Any) -> str:
        """Return the engine's task: ``task``, or the kind of ``y`` for ``"auto"``."""
        if self.task != "auto":
            return self.task
        with naming("y", "must be a 1-D array-like of class labels or numbers"):
            kind = type_of_target(y, input_name="y")
        return "regression" if kind == _REGRESSION_TARGET else "classification"

    def _engine(self, task: str) -> MIUnbiasedClassifier | MIUnbiasedRegressor:
        """Return the unfitted engine of the task, set from this transformer's parameters."""
        params = {name: getattr(self, name) for name in _ENGINE_PARAMS}
        penalty = self.penalty
        if isinstance(penalty, str) and penalty == "auto":
            penalty = DonskerVaradhan(steps=REPRESENTATION_CRITIC_STEPS, critic_type="auto")
        if task == "classification":
            return MIUnbiasedClassifier(pos_label=self.pos_label, penalty=penalty, **params)
        return MIUnbiasedRegressor(penalty=penalty, **params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self._engine("classification").__sklearn_tags__().non_deterministic
        return tags
