"""``_MIUnbiasedBase``: what ``MIUnbiasedClassifier`` and ``MIUnbiasedRegressor`` share."""

from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)
from skorch.dataset import unpack_data
from skorch.utils import to_device
from torch import nn
from torch.utils.data import Dataset

from ._devices import check_device, cuda_devices
from ._engine import MINet, MISettings
from ._sensitive import SENSITIVE_ENCODINGS, encode_sensitive_features, warn_if_constant
from ._validation import OPTIMIZER_CLASS, naming
from .exceptions import (
    NoSensitiveFeaturesWarning,
    PenaltySkippedWarning,
    RepresentationCollapseWarning,
)
from .mi import (
    CRITERIA,
    PENALTIES,
    Criterion,
    DependencePenalty,
    make_penalty,
)
from .mi._criteria import warn_if_groups_outnumber_batches

__all__ = ["_MIUnbiasedBase"]

#: estimator parameters that the skorch net takes under the same names
_NET_PARAMS = ("optimizer", "lr", "max_epochs", "batch_size", "train_split", "verbose", "device")


class _MIUnbiasedBase(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """The scikit-learn contract that ``MIUnbiasedClassifier`` and ``MIUnbiasedRegressor`` share.

    It validates the parameters and the input, encodes the attribute,
    seeds, builds the engine (a ``MINet`` in ``net_``) and trains it, and
    maps ``X`` to the representation ``z`` (``transform``). A subclass
    declares its parameters in ``__init__`` (the shared ones are documented
    on [`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier]) and adds the encoding of ``y``, the
    engine's task settings (``_task_net_params``), the criterion and the
    predictions.
    """

    __metadata_request__fit: ClassVar[dict] = {"sensitive_features": True}

    #: the separate update's learning rate ``lr * mi_weight`` may not exceed this
    MAX_SEPARATE_MI_LR = 1.0

    _parameter_constraints: ClassVar[dict] = {
        "mi_weight": [Interval(Real, 0, None, closed="left")],
        "criterion": [StrOptions(set(CRITERIA))],
        "penalty": [StrOptions(set(PENALTIES)), DependencePenalty],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_units": ["array-like"],
        "backbone": [nn.Module, None],
        "mi_update": [StrOptions({"separate", "joint"})],
        "clip_mi_gradient": [StrOptions({"representation", "per_tensor"}), None],
        "sensitive_encoding": [StrOptions(set(SENSITIVE_ENCODINGS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [OPTIMIZER_CLASS],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "train_split": [callable, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        X: ArrayLike | Dataset,
        y: ArrayLike | None = None,
        *,
        sensitive_features: Any = None,
        sample_weight: ArrayLike | None = None,
    ) -> _MIUnbiasedBase:
        """Train the encoder, the logit layer and the critic (Algorithm 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or torch Dataset
            Training inputs, numeric. With a ``backbone``, any array shape the
            backbone takes (e.g. images (n_samples, C, H, W)), or a
            ``torch.utils.data.Dataset`` whose items are ``(input, target)``
            pairs, read batch by batch so that data larger than memory can
            stream from disk.
        y : array-like of shape (n_samples,) or None
            Class labels of any type, two classes or more (for
            ``MIUnbiasedRegressor``: numbers). With a Dataset,
            None reads the dataset's ``targets`` attribute.
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns), \
                default=None
            The attribute whose information ``z`` should not carry: a list,
            numpy array, pandas Series or DataFrame (see ``sensitive_encoding``
            for how it is encoded). With a Dataset, None reads the dataset's
            ``sensitive_features`` attribute when it has one. None otherwise
            trains plain ERM and warns with
            [`NoSensitiveFeaturesWarning`][fairmine.exceptions.NoSensitiveFeaturesWarning].
            ``fit`` is the only method that takes it.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weight of each sample: the task loss, the critic's
            bound and the MI penalty are weighted means over each minibatch,
            and the exact marginal uses weighted frequencies. A row of weight
            0 has no influence through its label or attribute (its input still
            passes the encoder, so it shares minibatches and the critic's
            standardisation of ``z``). Integer weights approximate repeated
            rows. Like any fit metadata, a meta-estimator routes it when it is
            requested with ``set_fit_request(sample_weight=True)``.
            ``class_weight`` multiplies it.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError, TypeError
            On bad input or parameters, naming the argument.
        TrainingDivergedError
            When a loss or the MI estimate diverged.
        KeyboardInterrupt
            When the fit was interrupted (Ctrl-C, or a callback raising it;
            skorch's ``EarlyStopping`` ends training normally instead).

        Notes
        -----
        A call that raises, whatever the reason, leaves the estimator as it
        was before the call: a fitted model keeps its attributes and predicts
        as before; an unfitted one stays unfitted (``NotFittedError``).
        """
        state = dict(self.__dict__)
        try:
            self._fit(X, y, sensitive_features, sample_weight)
        except BaseException:  # refused, diverged or interrupted: undo every change
            self.__dict__.clear()
            self.__dict__.update(state)
            raise
        return self

    def _fit(
        self, X: Any, y: Any, sensitive_features: Any, sample_weight: ArrayLike | None
    ) -> None:
        """``fit``'s work, which may leave partial attributes behind when it raises."""
        self._validate_params()
        penalty = make_penalty(self.penalty)
        self._check_param_combinations()
        self._check_layer_widths()
        check_device(self.device)
        if isinstance(X, Dataset):
            self._reset_input_attributes()
            y = _dataset_attribute(X, "targets", "y") if y is None else y
            if sensitive_features is None:
                sensitive_features = getattr(X, "sensitive_features", None)
        else:
            if y is None:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None."
                )
            X = _writable(self._validate_X(X))
        y_index = self._encode_target(y, n_samples=len(X), sample_weight=sample_weight)
        c = self._encode_sensitive(sensitive_features, n_samples=len(y_index))
        weight = self._row_weights(sample_weight, y_index, c)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        penalised = c is not None and self.mi_weight > 0
        net = self._build_net(penalty if penalised else None)
        if penalised:
            self._check_criterion_rows(net.mi_criterion, y_index)
            warn_if_groups_outnumber_batches(net.mi_criterion, y_index, weight, self.batch_size)
        with torch.random.fork_rng(devices=cuda_devices(self.device)):
            torch.manual_seed(seed)
            self.net_ = net.fit(X, y_index, c=c, sample_weight=weight)
            self.history_ = self.net_.history
            critic_worked = not penalised or sum(self.history_[:, "train_critic_updates"]) > 0
            self.critic_steps_ = self.net_.critic_steps_ if critic_worked else 0
            self.critic_bank_size_ = self.net_.critic_bank_size_
            self._n_features_out = self.embedding_dim
            if penalised:
                self._warn_if_penalty_skipped()
            # inside the forked random state: iterating a DataLoader draws a seed
            if not self._warn_on_collapse():
                self._warn_if_degenerate(X, y_index, weight)

    def _check_layer_widths(self) -> None:
        widths = self.hidden_units
        if isinstance(widths, str) or not all(
            isinstance(w, Integral) and not isinstance(w, bool) and w >= 1 for w in widths
        ):
            raise ValueError(
                f"hidden_units must be a sequence of positive integers (layer widths), got "
                f"{widths!r}."
            )

    def _row_weights(
        self, sample_weight: ArrayLike | None, y_index: np.ndarray, c: np.ndarray | None
    ) -> np.ndarray | None:
        """Return each row's training weight: ``sample_weight``, validated (None: all equal)."""
        return _sample_weight(sample_weight, None, len(y_index))

    def _warn_if_penalty_skipped(self) -> None:
        """Warn when the MI penalty acted on fewer than half of the encoder steps."""
        steps = int(sum(self.history_[:, "train_batch_count"]))
        skipped = int(sum(self.history_[:, "train_mi_skipped"]))
        if 2 * (steps - skipped) >= steps:
            return
        rows = (
            f"rows of class {self.classes_[self.net_.mi_criterion.positive].tolist()!r}"
            if self.criterion == "equal_opportunity"
            else "rows of some weight"
        )
        warnings.warn(
            f"the MI penalty acted on {steps - skipped} of the fit's {steps} encoder steps: "
            f"the others' minibatches held fewer than two {rows}, which the bound of "
            f"criterion={self.criterion!r} needs, and trained the task alone. Raise "
            f"batch_size (now {self.batch_size!r}), choose another criterion, or (with "
            f"'equal_opportunity') a pos_label with more rows (now {self.pos_label!r}).",
            PenaltySkippedWarning,
            stacklevel=4,
        )

    def _check_param_combinations(self) -> None:
        if self.mi_weight == 0:
            return
        if self.mi_update == "separate" and self.lr * self.mi_weight > self.MAX_SEPARATE_MI_LR:
            raise ValueError(
                f"mi_update='separate' steps the MI gradient with learning rate lr * mi_weight "
                f"= {self.lr * self.mi_weight:g}, above {self.MAX_SEPARATE_MI_LR:g}, which "
                f"diverges. Lower mi_weight (now {self.mi_weight!r}) or lr (now {self.lr!r}), "
                "or use mi_update='joint', whose clipping bounds the penalty's step."
            )

    def _encode_sensitive(self, sensitive_features: Any, n_samples: int) -> np.ndarray | None:
        if sensitive_features is None:
            warnings.warn(
                "fit was called without sensitive_features: the mutual-information penalty "
                f"is off and {type(self).__name__} trains as plain ERM.",
                NoSensitiveFeaturesWarning,
                stacklevel=4,
            )
            return None
        c = encode_sensitive_features(sensitive_features, encoding=self.sensitive_encoding)
        if c.shape[0] != n_samples:
            raise ValueError(
                f"sensitive_features has {c.shape[0]} rows but X has {n_samples} samples; "
                "they must describe the same samples."
            )
        consequence = f"{type(self).__name__} trains plain ERM, the model of mi_weight=0."
        return None if warn_if_constant(c, "sensitive_features", consequence) else c

    def _validate_X(self, X: ArrayLike, *, reset: bool = True) -> np.ndarray:
        """``validate_data`` on ``X``; a backbone may take any array shape."""
        images = self.backbone is not None
        _refuse_text_columns(X)
        shape = "an array of the shape the backbone takes" if images else "a 2-D array-like"
        with naming("X", f"must be {shape} of numbers"):
            try:
                return validate_data(self, X, reset=reset, dtype=np.float32, allow_nd=images)
            except ValueError as error:
                if "could not convert" not in str(error):
                    raise
                raise ValueError(
                    f"X must be numeric ({error}). Encode text and categories first, for "
                    "example with sklearn's OneHotEncoder in a ColumnTransformer before the "
                    "estimator."
                ) from error

    def _reset_input_attributes(self) -> None:
        for name in ("n_features_in_", "feature_names_in_"):
            self.__dict__.pop(name, None)

    def _check_criterion_rows(self, criterion: Criterion, y: np.ndarray) -> None:
        """Refuse an ``equal_opportunity`` fit whose positive class has fewer than two rows."""
        if criterion.positive is not None and np.sum(y == criterion.positive) < 2:
            raise ValueError(
                f"criterion={self.criterion!r} measures the MI on the rows of class "
                f"{self.classes_[criterion.positive]!r}, but y has fewer than two of them."
            )

    def _build_net(self, penalty: DependencePenalty | None) -> MINet:
        """Return the engine, set from the parameters of the same names; it builds its parts.

        ``penalty=None`` gives plain ERM (``mi_weight=0``, or no attribute).
        """
        mi = (
            None
            if penalty is None
            else MISettings(self.mi_weight, penalty, self.mi_update, self.clip_mi_gradient)
        )
        return MINet(
            backbone=self.backbone,
            hidden_units=self.hidden_units,
            embedding_dim=self.embedding_dim,
            mi_criterion=self._mi_criterion(),
            mi=mi,
            **self._task_net_params(),
            callbacks=copy.deepcopy(self.callbacks),
            iterator_train__shuffle=True,
            torch_load_kwargs={"weights_only": True},
            **{name: getattr(self, name) for name in _NET_PARAMS},
        )

    def _warn_on_collapse(self) -> bool:
        """Warn, and return True, when every unit of ``z`` is constant."""
        if self.history_[-1].get("train_z_active", 1.0) == 0.0:
            warnings.warn(
                "every unit of the representation z is constant over the training batches "
                "(representation collapse); predictions are a single class. Lower lr "
                f"(now {self.lr!r}) or mi_weight (now {self.mi_weight!r}), or keep "
                "clip_mi_gradient on.",
                RepresentationCollapseWarning,
                stacklevel=4,
            )
            return True
        return False

    def transform(self, X: ArrayLike, **kwargs: Any) -> np.ndarray:
        """Return the learned representation ``z``.

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
            The representation the MI penalty acted on.
        """
        _refuse_arguments("transform", kwargs)
        return self._apply("encode", X)

    def _apply(self, method: str, X: Any) -> np.ndarray:
        """Validate ``X`` and run a module method over it in eval mode, batch by batch."""
        check_is_fitted(self)
        if not isinstance(X, Dataset):
            X = _writable(self._validate_X(X, reset=False))
        return self._run_module(method, X)

    def _run_module(self, method: str, X: Any) -> np.ndarray:
        """Run a module method over validated ``X`` in eval mode, batch by batch."""
        net = self.net_
        net.module_.eval()
        fn = getattr(net.module_, method)
        outputs = []
        with torch.no_grad():
            for batch in net.get_iterator(net.get_dataset(X), training=False):
                x, _ = unpack_data(batch)
                outputs.append(fn(to_device(x, net.device)).cpu())
        return torch.cat(outputs).numpy()

    # ------------------------------------------------------------- parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Get the parameters; ``deep`` also lists the settings of a named ``penalty``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the settings of the penalty as nested names
            (``penalty__steps``), for a penalty given by name (such as the
            default ``"donsker_varadhan"``) as for an object: a name stands
            for its object with its defaults ([`make_penalty`][fairmine.mi.make_penalty]).

        Returns
        -------
        dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        if deep and isinstance(self.penalty, str) and self.penalty in PENALTIES:
            settings = make_penalty(self.penalty).get_params()
            params.update((f"penalty__{name}", value) for name, value in settings.items())
        return params

    def set_params(self, **params: Any) -> _MIUnbiasedBase:
        """Set the parameters, nested names such as ``penalty__steps`` included.

        A nested name on a penalty given by name replaces the name with its
        object ([`make_penalty`][fairmine.mi.make_penalty]) with the setting changed,
        as ``GridSearchCV(MIUnbiasedClassifier(), {"penalty__steps": [3, 10]})``
        expects; settings equal to the object's defaults leave the name as
        it is, so ``set_params(**get_params())`` changes nothing. As in
        scikit-learn, plain names are set first, then nested ones.

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        self : object
            The estimator.

        Raises
        ------
        ValueError
            For an unknown name, or a nested name on a parameter whose value
            has no settings of its own (a name such as ``loss="huber"``, a
            class, a torch module).
        """
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, delimiter, setting = key.partition("__")
            if delimiter:
                nested.setdefault(name, {})[setting] = value
        super().set_params(**{key: value for key, value in params.items() if "__" not in key})
        for name, settings in nested.items():
            self._set_nested_params(name, settings)
        return self

    def _set_nested_params(self, name: str, settings: dict[str, Any]) -> None:
        """Set the settings of the object that parameter ``name`` holds (or names)."""
        if name not in self.get_params(deep=False):  # scikit-learn's error for an unknown name
            super().set_params(**{f"{name}__{key}": value for key, value in settings.items()})
        value = getattr(self, name)
        if name == "penalty" and isinstance(value, str):
            penalty = make_penalty(value).set_params(**settings)
            if penalty.get_params() != make_penalty(value).get_params():
                self.penalty = penalty
            return
        if isinstance(value, type) or not hasattr(value, "set_params"):
            raise ValueError(
                f"Invalid parameter {f'{name}__{next(iter(settings))}'!r} for "
                f"{type(self).__name__}: {name}={value!r} has no settings of its own to set "
                f"by a nested name. Nested names reach the settings of a penalty, as "
                f"penalty__steps; set {name} itself instead."
            )
        value.set_params(**settings)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        try:
            device = torch.device(self.device).type
        except RuntimeError:  # not a device: fit refuses it, prediction uses the fitted net's
            device = "cpu"
        tags.non_deterministic = device != "cpu"
        return tags


def _refuse_arguments(method: str, kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments of a prediction method, explaining ``sensitive_features``."""
    if "sensitive_features" in kwargs:
        raise TypeError(
            f"{method}() does not take sensitive_features: fairmine's estimators use the "
            f"attribute at fit time only, and {method} reads X alone. Drop the argument; "
            "to measure fairness, pass it to a metric (fairmine.metrics, fairlearn's "
            "MetricFrame) instead."
        )
    if kwargs:
        raise TypeError(f"{method}() got unexpected keyword arguments {sorted(kwargs)}.")


def _check_length(y: np.ndarray, n_samples: int) -> None:
    if len(y) != n_samples:
        raise ValueError(
            f"y has {len(y)} samples but X has {n_samples}; they must describe the same samples."
        )


def _dataset_attribute(dataset: Dataset, attribute: str, argument: str) -> Any:
    if not hasattr(dataset, attribute):
        raise ValueError(
            f"X is a {type(dataset).__name__} without a {attribute!r} attribute: pass "
            f"{argument}= to fit."
        )
    return getattr(dataset, attribute)


def _sample_weight(
    sample_weight: ArrayLike | None, class_weights: np.ndarray | None, n_samples: int
) -> np.ndarray | None:
    """Validate ``sample_weight`` and multiply in the class weights (scikit-learn's rule).

    None stands for equal weights, which change nothing.
    """
    if sample_weight is None and class_weights is None:
        return None
    with naming("sample_weight", "must hold one non-negative number per row of X"):
        weight = _check_sample_weight(
            sample_weight, np.empty(n_samples), dtype=np.float64, ensure_non_negative=True
        )
    if class_weights is not None:
        weight = weight * class_weights
        if not weight.any():
            raise ValueError(
                "sample_weight times class_weight is 0 for every row: give some class of y "
                "a positive weight."
            )
    # a weighted mean with equal weights is the plain mean: take the unweighted path
    return None if np.ptp(weight) == 0 else weight.astype(np.float32)


def _refuse_text_columns(X: Any) -> None:
    """Refuse a DataFrame with text or category columns with a hint to encode them."""
    if not hasattr(X, "dtypes") or not hasattr(X, "columns"):
        return
    text = [
        str(name)
        for name, dtype in zip(X.columns, X.dtypes, strict=True)
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    ]
    if text:
        raise ValueError(
            f"X must be numeric, but the columns {text} are not (text, category or object). "
            "Encode them first, for example with sklearn's OneHotEncoder in a "
            "ColumnTransformer before the estimator."
        )


def _writable(X: np.ndarray) -> np.ndarray:
    """Copy read-only arrays (pandas' copy-on-write views), which torch cannot wrap."""
    return np.require(X, requirements="W")
