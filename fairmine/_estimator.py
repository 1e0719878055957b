"""``MIUnbiasedClassifier`` and ``MIUnbiasedRegressor``: the scikit-learn face of fairmine."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.metrics import r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_is_fitted,
    validate_data,
)
from skorch.dataset import unpack_data
from skorch.utils import to_device
from torch import nn
from torch.utils.data import Dataset

from ._bias_weights import independence_weights
from ._degenerate import check_constant
from ._devices import check_device, cuda_devices
from ._engine import MINet, MISettings
from ._sensitive import SENSITIVE_ENCODINGS, encode_sensitive_features, warn_if_constant
from ._validation import naming
from .exceptions import (
    DegenerateModelWarning,
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

__all__ = ["MIUnbiasedClassifier", "MIUnbiasedRegressor"]

#: parameters of the classifier that a continuous target has no use for
_CLASSIFIER_ONLY = ("pos_label", "class_weight", "bias_reweighting")

#: the regressor's task losses, on the standardised target (``loss``)
_REGRESSION_LOSSES = {"squared_error": nn.MSELoss, "huber": nn.HuberLoss}

#: estimator parameters that the skorch net takes under the same names
_NET_PARAMS = ("optimizer", "lr", "max_epochs", "batch_size", "train_split", "verbose", "device")


class _MIUnbiasedBase(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Classifier whose representation carries little information about a sensitive attribute.

    A feature extractor ``g`` maps ``x`` to a representation ``z`` and a logit
    layer ``f`` predicts ``y`` from ``z``. A statistics network ``T`` (the
    critic) estimates the mutual information ``I(Z; C)`` between ``z`` and the
    sensitive attribute ``C`` (or, by ``criterion``, the conditional
    ``I(Z; C | Y)``) with the Donsker-Varadhan bound of MINE (the default
    ``penalty``, :class:`fairmine.mi.DonskerVaradhan`, which carries the
    critic's settings). Training alternates K critic updates that maximise
    the bound on detached ``z`` with one update of ``g`` and ``f`` that
    minimises ``task loss + mi_weight * MI estimate`` (Algorithm 1 of
    Ragonesi et al.).
    The attribute is needed by ``fit`` only: ``predict``, ``predict_proba``,
    ``score`` and ``transform`` use ``X`` alone.

    Parameters
    ----------
    mi_weight : float, default=1.0
        Weight lambda of the MI penalty. 0 trains plain empirical risk
        minimisation (ERM) with no critic at all (at ERM's cost); monitor the
        MI of such a model with :class:`fairmine.mi.MIAudit` or
        :func:`fairmine.estimate_mi`.
    criterion : {"demographic_parity", "equalized_odds", "equal_opportunity"}, \
            default="demographic_parity"
        Which information about the attribute is removed, named after the
        fairness criterion it serves (fairlearn's vocabulary).
        ``"demographic_parity"``: ``I(Z; C)``, the paper's objective
        (independence: equal selection rates). ``"equalized_odds"``:
        ``I(Z; C | Y)``, the critic also reads the true class and the
        marginal term draws ``C`` within each class (separation: equal true-
        and false-positive rates). ``"equal_opportunity"``:
        ``I(Z; C | Y = pos_label)``, measured on the rows of the positive
        class only (equal true-positive rates). Choose the criterion of the
        metric you audit: when the groups' base rates differ, removing all of
        ``I(Z; C)`` forces unequal true-positive rates.
    pos_label : label or None, default=None
        The positive class of ``"equal_opportunity"``. None takes the greater
        of two classes (as fairlearn's metrics take 1); a multi-class ``y``
        needs it. Ignored by the other criteria. Classifier only.
    penalty : str or fairmine.mi.DependencePenalty, default="donsker_varadhan"
        The dependence penalty that ``mi_weight`` weighs, by name or as an
        object carrying its own settings (searchable with nested names such
        as ``penalty__steps`` or ``penalty__n_slices``).
        ``"donsker_varadhan"``: the paper's critic and lower bound,
        :class:`fairmine.mi.DonskerVaradhan` with its defaults (K critic
        updates counted from the FLOPs, a bank of the current batch); pass
        ``DonskerVaradhan(steps=10, ...)`` to set the critic.
        ``"classifier_critic"``: the same with ``critic_type="classifier"``;
        ``"club"``: the upper bound of a variational ``q(c | z)`` trained by
        one likelihood step per step (:class:`fairmine.mi.CLUB`);
        ``"sliced"``: the mean canonical dependence of random slices, in
        closed form (:class:`fairmine.mi.SlicedDependence`); ``"hsic"``: the
        kernel dependence HSIC, in closed form (:class:`fairmine.mi.HSIC`).
        ``train_mi`` logs the penalty's own value (nats for the bounds, not
        for the kernel and sliced ones). See the concepts page for which fits
        where.
    embedding_dim : int, default=8
        Size of the representation ``z`` (a ReLU layer). Low dimensions make
        the MI easier to estimate (paper, section 4.2).
    hidden_units : tuple of int, default=(64,)
        Hidden layer widths of the default MLP feature extractor, before the
        ``embedding_dim`` bottleneck (ignored when ``backbone`` is given).
    backbone : torch.nn.Module or None, default=None
        A feature extractor of your own, such as a CNN mapping images
        (N, C, H, W) to features; the estimator adds the bottleneck to
        ``embedding_dim`` (``z``) and the logit layer, and trains all of it.
        ``X`` may then be an array of any shape the backbone takes, or a
        ``torch.utils.data.Dataset`` (see ``fit``). The module passed in is
        never modified: each ``fit`` trains a deep copy, starting from the
        weights it was built with (``random_state`` does not redraw them;
        build it under ``torch.manual_seed`` for fits that repeat, as
        :func:`fairmine.experiments.reference_classifier` does). None uses
        an MLP.
    mi_update : {"joint", "separate"}, default="joint"
        How the MI gradient reaches the encoder. ``"joint"`` (Algorithm 1 as
        printed) takes one step on ``task gradient + mi_weight * clipped MI
        gradient``. ``"separate"`` (the paper's reference code) steps the
        optimizer on the task gradient, then a second instance of
        ``optimizer`` with learning rate ``lr * mi_weight`` on the clipped MI
        gradient; its penalty keeps its force when the task gradient shrinks
        late in training, which suits long runs on images.
    clip_mi_gradient : {"per_tensor", "representation"} or None, default="per_tensor"
        MINE's adaptive clipping: the MI gradient is scaled down to at most
        the norm of the task gradient, *then* weighted by ``mi_weight``, so the
        penalty's gradient is at most ``mi_weight`` times the task's (with
        ``mi_weight <= 1`` it never outweighs the task). ``"per_tensor"`` is
        the published rule, weight tensor by weight tensor; it needs a
        separate backward pass through the encoder for the MI gradient.
        ``"representation"`` clips the two gradients with respect to the
        pre-activation of ``z`` (the bottleneck before its ReLU) and
        backpropagates their weighted sum through the encoder once,
        so the penalty costs no second encoder pass; it matched the published
        rule on German credit but debiased far less on the colored-MNIST CNN
        (see the docs' results page). None does not clip: the two gradients are
        combined at ``z``'s pre-activation as with ``"representation"``, in one encoder pass.
    sensitive_encoding : {"auto", "categorical", "continuous", "passthrough"}, default="auto"
        How ``sensitive_features`` become the critic's input ``c``. ``"auto"``:
        a 2-D numeric input of 0/1 entries with two or more columns (such as a
        24-bit colour code) is used as it is; otherwise every floating-point
        column is standardised and every boolean, integer, string or category
        column is one-hot encoded. The other values force one treatment.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in scikit-learn's classifiers, for an
        imbalanced ``y``: ``{label: weight}``, or ``"balanced"`` for
        ``n_samples / (n_classes * count(label))``. They multiply
        ``sample_weight`` (scikit-learn's rule), so they weigh the task loss,
        the critic's bound and the MI penalty like sample weights. None weighs
        the classes alike. Classifier only.
    bias_reweighting : {"auto"} or None, default=None
        For dataset bias, where the attribute predicts the label in the
        training data (colour-biased images): ``"auto"`` multiplies
        ``sample_weight`` by ``p(y) / p(y | c)`` (the attribute ``c`` as
        encoded for the critic), under which the weighted training data has
        the attribute independent of the label. There a representation that
        predicts ``y`` without the attribute carries none of it, so the MI
        penalty removes the shortcut instead of the task (unweighted, any
        ``z`` that predicts ``y`` must carry about ``I(Y; C)`` of the
        attribute). ``p(y | c)`` is counted exactly for an attribute with at
        most 32 distinct encoded values and otherwise estimated by a 5-fold
        cross-fitted logistic regression of ``y`` on ``c``; the ratio is
        capped at 50 and the weights rescaled to the mean of ``sample_weight``
        (1 without it). It also applies with ``mi_weight=0`` (plain
        reweighting). None: no reweighting.
        Leave it off when the label's dependence on the attribute is
        legitimate or when demographic parity is not the goal. Classifier only.
    max_epochs : int, default=30
        Passes over the training data.
    lr : float, default=1e-3
        Learning rate of ``optimizer`` for the encoder and logit layer.
    batch_size : int, default=64
        Minibatch size of every update, critic updates included (unless the
        penalty sets its own, as ``DonskerVaradhan(batch_size=...)``).
    optimizer : type of torch.optim.Optimizer, default=torch.optim.Adam
        Optimizer class of the encoder and logit layer.
    device : str, default="cpu"
        Torch device to train on, such as ``"cuda"``.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (deep-copied at each ``fit``). Their
        ``on_grad_computed`` runs once per encoder step, when the gradients
        are set and before the optimizer steps (so that skorch's
        ``GradientNormClipping`` clips what the step applies); a
        ``KeyboardInterrupt`` one raises ends ``fit`` with that exception,
        except skorch's ``EarlyStopping``, which ends it normally.
    train_split : callable or None, default=None
        skorch's split of the training data, such as
        ``skorch.dataset.ValidSplit(0.2)``; then ``history_`` also holds
        ``valid_loss``, ``valid_task_loss``, ``valid_acc`` and ``valid_mi``.
    verbose : int, default=0
        1 prints one line per epoch (skorch's ``PrintLog``).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights of the layers the estimator builds (not
        those of a ``backbone`` passed in), shuffling and the critic's
        marginal samples. The global torch random state is left untouched.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column names.
    critic_steps_ : int
        The critic updates made before each encoder update (the penalty's
        ``steps`` with ``"auto"`` resolved); 0 when no critic was trained, or
        when no critic update could be made (every critic minibatch had fewer
        than two of the criterion's rows: see ``train_critic_updates`` in
        ``history_``).
    critic_bank_size_ : int
        The capacity of the representation bank (the penalty's ``bank_size``
        with ``"auto"`` resolved); 0 when no bank was used.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch model and
        ``net_.critic_`` the critic (absent when no critic was trained).
    history_ : skorch.History
        One row per epoch with ``train_loss`` (task loss + ``mi_weight`` * MI),
        ``train_task_loss``, ``train_mi`` (the training critic's DV estimate
        of the criterion's MI on the encoder's minibatches, in nats; absent
        when ``mi_weight=0``), ``train_z_active`` (fraction of ``z`` units
        that vary within a batch) and ``dur``. The training critic scores the
        very batches the encoder learns to hide from it: audit with a fresh
        critic (:class:`fairmine.mi.MIAudit`, :func:`fairmine.estimate_mi`).
        With the penalty on, ``train_mi_skipped`` counts the epoch's encoder
        steps whose minibatch held fewer than two of the criterion's rows (a
        plain task step, see
        :class:`~fairmine.exceptions.PenaltySkippedWarning`) and
        ``train_critic_updates`` the critic updates made (warm-up included).

    See Also
    --------
    fairmine.estimate_mi : MI between any representation and an attribute.

    References
    ----------
    .. [1] R. Ragonesi, R. Volpi, J. Cavazza and V. Murino, "Learning Unbiased
       Representations via Mutual Information Backpropagation", CVPR Workshops 2021.
    .. [2] M. I. Belghazi et al., "Mutual Information Neural Estimation", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from fairmine import MIUnbiasedClassifier
    >>> rng = np.random.RandomState(0)
    >>> group = rng.randint(0, 2, 200)
    >>> X = np.c_[rng.normal(size=(200, 3)), group + rng.normal(scale=0.1, size=200)]
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = MIUnbiasedClassifier(max_epochs=10, lr=1e-2, random_state=0)
    >>> clf.fit(X, y, sensitive_features=group).predict(X[:3]).shape
    (3,)
    >>> clf.transform(X).shape
    (200, 8)
    """

    __metadata_request__fit: ClassVar[dict] = {"sensitive_features": True}

    #: the separate update's learning rate ``lr * mi_weight`` may not exceed this
    MAX_SEPARATE_MI_LR = 1.0

    _parameter_constraints: ClassVar[dict] = {
        "mi_weight": [Interval(Real, 0, None, closed="left")],
        "criterion": [StrOptions(set(CRITERIA))],
        "pos_label": "no_validation",
        "penalty": [StrOptions(set(PENALTIES)), DependencePenalty],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_units": ["array-like"],
        "backbone": [nn.Module, None],
        "mi_update": [StrOptions({"separate", "joint"})],
        "clip_mi_gradient": [StrOptions({"representation", "per_tensor"}), None],
        "sensitive_encoding": [StrOptions(set(SENSITIVE_ENCODINGS))],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "bias_reweighting": [StrOptions({"auto"}), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [type],
        "device": [str, torch.device],
        "callbacks": [list, None],
        "train_split": [callable, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        mi_weight: float = 1.0,
        criterion: str = "demographic_parity",
        pos_label: Any = None,
        penalty: str | DependencePenalty = "donsker_varadhan",
        embedding_dim: int = 8,
        hidden_units: Sequence[int] = (64,),
        backbone: nn.Module | None = None,
        mi_update: str = "joint",
        clip_mi_gradient: str | None = "per_tensor",
        sensitive_encoding: str = "auto",
        class_weight: dict | str | None = None,
        bias_reweighting: str | None = None,
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
        self.class_weight = class_weight
        self.bias_reweighting = bias_reweighting
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.train_split = train_split
        self.verbose = verbose
        self.random_state = random_state

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        X: ArrayLike | Dataset,
        y: ArrayLike | None = None,
        *,
        sensitive_features: Any = None,
        sample_weight: ArrayLike | None = None,
    ) -> MIUnbiasedClassifier:
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
            :class:`~fairmine.exceptions.NoSensitiveFeaturesWarning`.
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
        self : MIUnbiasedClassifier
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        try:
            device = torch.device(self.device).type
        except RuntimeError:  # not a device: fit refuses it, prediction uses the fitted net's
            device = "cpu"
        tags.non_deterministic = device != "cpu"
        return tags


class MIUnbiasedClassifier(ClassifierMixin, _MIUnbiasedBase):
    # the shared parameters are documented once, on the base that holds them
    __doc__ = _MIUnbiasedBase.__doc__

    def _task_net_params(self) -> dict[str, Any]:
        """Return the engine's task settings: its defaults, cross-entropy over the classes."""
        return {}

    def _encode_target(self, y: Any, n_samples: int, sample_weight: Any = None) -> np.ndarray:
        """Return ``y`` as class indices (``sample_weight`` does not change them)."""
        with naming("y", "must be a 1-D array-like of class labels"):
            y = _check_y(y, estimator=self)  # 1-D, finite (sklearn's own messages)
            _check_length(y, n_samples)
            check_classification_targets(y)
            encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y must hold at least two classes to train a classifier, got one class "
                f"only ({self.classes_[0]})."
            )
        return encoder.transform(y).astype(np.int64)

    def _class_weights(self, y_index: np.ndarray) -> np.ndarray | None:
        """Return each row's ``class_weight`` (None when there are none)."""
        if self.class_weight is None:
            return None
        with naming("class_weight", "must map classes of y to non-negative numbers"):
            if isinstance(self.class_weight, dict):
                values = np.asarray(list(self.class_weight.values()), dtype=np.float64)
                if not np.all(np.isfinite(values) & (values >= 0)):
                    raise ValueError(
                        f"class_weight must hold non-negative numbers, got {self.class_weight}."
                    )
            return compute_sample_weight(self.class_weight, self.classes_[y_index])

    def _row_weights(
        self, sample_weight: ArrayLike | None, y_index: np.ndarray, c: np.ndarray | None
    ) -> np.ndarray | None:
        """Return ``sample_weight`` times ``class_weight``, then ``bias_reweighting``'s ratio."""
        weight = _sample_weight(sample_weight, self._class_weights(y_index), len(y_index))
        if self.bias_reweighting is None or c is None:
            return weight
        return independence_weights(y_index, c, weight)

    def _mi_criterion(self) -> Criterion:
        """Return the criterion in class indices, checking ``pos_label`` against ``classes_``."""
        positive = None
        if self.criterion == "equal_opportunity":
            if self.pos_label is None and len(self.classes_) > 2:
                raise ValueError(
                    f"criterion='equal_opportunity' with {len(self.classes_)} classes needs "
                    f"pos_label, one of {self.classes_.tolist()}."
                )
            pos_label = self.classes_[-1] if self.pos_label is None else self.pos_label
            if pos_label not in self.classes_:
                raise ValueError(
                    f"pos_label={self.pos_label!r} is not a class of y; the classes are "
                    f"{self.classes_.tolist()}."
                )
            positive = int(np.flatnonzero(self.classes_ == pos_label)[0])
        return Criterion(self.criterion, n_classes=len(self.classes_), positive=positive)

    def _warn_if_degenerate(self, X: Any, y: np.ndarray, weight: np.ndarray | None) -> None:
        """Warn when the model does no better than a constant on its training data."""
        predicted = self._run_module("forward", X).argmax(axis=1)
        check = check_constant(y, predicted, weight)
        if not check.degenerate:
            return
        what = (
            f"predicts the single class {self.classes_[predicted[:1]].tolist()[0]!r}"
            if check.single_class
            else "is no better than a constant"
        )
        warnings.warn(
            f"the fitted model {what} on its training data (training accuracy "
            f"{check.accuracy:.3f}, most frequent class {check.majority:.3f}, two standard "
            f"errors {check.margin:.3f}). "
            f"Lower mi_weight (now {self.mi_weight!r}), "
            f"use the criterion of the metric you audit (now {self.criterion!r}), or train "
            f"longer (max_epochs={self.max_epochs!r}, lr={self.lr!r}).",
            DegenerateModelWarning,
            stacklevel=4,
        )

    # ------------------------------------------------------------- predicting
    def predict_proba(self, X: ArrayLike, **kwargs: Any) -> np.ndarray:
        """Class probabilities, from ``X`` alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        **kwargs
            None accepted; ``sensitive_features`` gets an error that says
            the attribute is used by ``fit`` only.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        _refuse_arguments("predict_proba", kwargs)
        logits = self._apply("forward", X)
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    def predict(self, X: ArrayLike, **kwargs: Any) -> np.ndarray:
        """Predicted class labels, from ``X`` alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        **kwargs
            None accepted; ``sensitive_features`` gets an error that says
            the attribute is used by ``fit`` only.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels taken from ``classes_``.
        """
        _refuse_arguments("predict", kwargs)
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **kwargs: Any
    ) -> float:
        """Mean accuracy on ``X`` and ``y``, from ``X`` alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Sample weights.
        **kwargs
            None accepted; ``sensitive_features`` gets an error that says
            the attribute is used by ``fit`` only (score fairness with
            :mod:`fairmine.metrics` or fairlearn's ``MetricFrame``).

        Returns
        -------
        float
            Accuracy of ``predict(X)``.
        """
        _refuse_arguments("score", kwargs)
        return super().score(X, y, sample_weight=sample_weight)


class MIUnbiasedRegressor(RegressorMixin, _MIUnbiasedBase):
    """Regressor whose representation carries little information about a sensitive attribute.

    The method of :class:`MIUnbiasedClassifier` (Ragonesi et al.'s Algorithm
    1) on a continuous target: the encoder ``g`` maps ``x`` to ``z``, a linear
    head predicts ``y`` from ``z``, and training alternates critic updates
    with encoder updates on ``regression loss + mi_weight * MI estimate``.
    The engine, the critic and every parameter below other than ``loss`` and
    ``n_bins`` are the classifier's, with the same meaning and defaults (see
    :class:`MIUnbiasedClassifier`); ``pos_label`` does not exist here.

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
        regression; audit it with :func:`fairmine.metrics.mean_prediction_gap`
        and :func:`fairmine.metrics.prediction_ks_distance`).
        ``"equalized_odds"``: ``I(Z; C | Y)`` with ``y`` cut into ``n_bins``
        quantile bins of the training target: among rows of similar ``y``
        the representation, hence the prediction and its error, should not
        depend on the group (separation; audit it with
        :func:`fairmine.metrics.group_mae_gap`). ``"equal_opportunity"`` needs
        a positive class and is refused.
    n_bins : int, default=4
        Quantile bins of ``y`` that ``"equalized_odds"`` conditions on (fewer
        when the target has ties at the quantiles; see
        ``target_bin_edges_``). Ignored by ``"demographic_parity"``.
    mi_weight, penalty, embedding_dim, hidden_units, backbone, mi_update, \
clip_mi_gradient, sensitive_encoding, max_epochs, lr, batch_size, optimizer, \
device, callbacks, train_split, verbose, random_state
        As in :class:`MIUnbiasedClassifier`. With a ``train_split``,
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
        As in :class:`MIUnbiasedClassifier`.

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
        **{
            name: rule
            for name, rule in _MIUnbiasedBase._parameter_constraints.items()
            if name not in _CLASSIFIER_ONLY
        },
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
        # scikit-learn reads the parameters from this signature; each is stored as it is
        for name, value in list(locals().items()):
            if name != "self":
                setattr(self, name, value)

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
        self.target_mean_ = float(np.average(y, weights=weight))
        scale = float(np.sqrt(np.average((y - self.target_mean_) ** 2, weights=weight)))
        self.target_scale_ = scale if scale > 0 else 1.0
        standard = (y - self.target_mean_) / self.target_scale_
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
            :mod:`fairmine.metrics`).

        Returns
        -------
        float
            R^2 of ``predict(X)``.
        """
        _refuse_arguments("score", kwargs)
        return super().score(X, y, sample_weight=sample_weight)


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
