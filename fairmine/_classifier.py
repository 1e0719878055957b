"""``MIUnbiasedClassifier``: fairmine's estimator for class labels."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_y, check_is_fitted
from torch import nn

from ._bias_weights import independence_weights
from ._degenerate import check_constant
from ._estimator import _check_length, _MIUnbiasedBase, _refuse_arguments, _sample_weight
from ._validation import naming
from .exceptions import DegenerateModelWarning
from .mi import Criterion, DependencePenalty

__all__ = ["MIUnbiasedClassifier"]


class MIUnbiasedClassifier(ClassifierMixin, _MIUnbiasedBase):
    """Classifier whose representation carries little information about a sensitive attribute.

    A feature extractor ``g`` maps ``x`` to a representation ``z`` and a logit
    layer ``f`` predicts ``y`` from ``z``. A statistics network ``T`` (the
    critic) estimates the mutual information ``I(Z; C)`` between ``z`` and the
    sensitive attribute ``C`` (or, by ``criterion``, the conditional
    ``I(Z; C | Y)``) with the Donsker-Varadhan bound of MINE (the default
    ``penalty``, [`DonskerVaradhan`][fairmine.mi.DonskerVaradhan], which carries the
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
        MI of such a model with [`MIAudit`][fairmine.mi.MIAudit] or
        [`estimate_mi`][fairmine.estimate_mi].
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
        as ``penalty__steps`` or ``penalty__n_slices``; on a name, such as
        the default, a nested name sets that name's object).
        ``"donsker_varadhan"``: the paper's critic and lower bound,
        [`DonskerVaradhan`][fairmine.mi.DonskerVaradhan] with its defaults (K critic
        updates counted from the FLOPs, a bank of the current batch); pass
        ``DonskerVaradhan(steps=10, ...)`` to set the critic.
        ``"classifier_critic"``: the same with ``critic_type="classifier"``;
        ``"club"``: the upper bound of a variational ``q(c | z)`` trained by
        one likelihood step per step ([`CLUB`][fairmine.mi.CLUB]);
        ``"sliced"``: the mean canonical dependence of random slices, in
        closed form ([`SlicedDependence`][fairmine.mi.SlicedDependence]); ``"hsic"``: the
        kernel dependence HSIC, in closed form ([`HSIC`][fairmine.mi.HSIC]).
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
        [`reference_classifier`][fairmine.experiments.reference_classifier] does). None uses
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
        critic ([`MIAudit`][fairmine.mi.MIAudit], [`estimate_mi`][fairmine.estimate_mi]).
        With the penalty on, ``train_mi_skipped`` counts the epoch's encoder
        steps whose minibatch held fewer than two of the criterion's rows (a
        plain task step, see
        [`PenaltySkippedWarning`][fairmine.exceptions.PenaltySkippedWarning]) and
        ``train_critic_updates`` the critic updates made (warm-up included).

    See Also
    --------
    fairmine.estimate_mi : MI between any representation and an attribute.

    References
    ----------
    - R. Ragonesi, R. Volpi, J. Cavazza and V. Murino, "Learning Unbiased
      Representations via Mutual Information Backpropagation", CVPR Workshops 2021.
    - M. I. Belghazi et al., "Mutual Information Neural Estimation", ICML 2018.

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

    _parameter_constraints: ClassVar[dict] = {
        **_MIUnbiasedBase._parameter_constraints,
        "pos_label": "no_validation",
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "bias_reweighting": [StrOptions({"auto"}), None],
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
            [`fairmine.metrics`](metrics.md) or fairlearn's ``MetricFrame``).

        Returns
        -------
        float
            Accuracy of ``predict(X)``.
        """
        _refuse_arguments("score", kwargs)
        return super().score(X, y, sample_weight=sample_weight)
