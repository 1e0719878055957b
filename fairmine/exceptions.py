"""Warnings and errors raised by fairmine.

Each class has one meaning, so that users (and scikit-learn's estimator checks)
can filter exactly the situation they expect and nothing else.
"""

__all__ = [
    "DegenerateModelWarning",
    "FairmineWarning",
    "NoSensitiveFeaturesWarning",
    "PenaltySkippedWarning",
    "RepresentationCollapseWarning",
    "SmallGroupWarning",
    "TrainingDivergedError",
    "UninformativeSensitiveFeaturesWarning",
]


class FairmineWarning(UserWarning):
    """Base class of every warning fairmine emits.

    Examples
    --------
    >>> import warnings
    >>> from fairmine.exceptions import FairmineWarning
    >>> warnings.simplefilter("ignore", FairmineWarning)  # silence all of fairmine's warnings
    >>> warnings.resetwarnings()
    """


class NoSensitiveFeaturesWarning(FairmineWarning):
    """``fit`` was called without ``sensitive_features``.

    The mutual-information penalty is then switched off and the estimator
    trains as plain empirical risk minimisation (ERM). scikit-learn's own
    estimator checks call ``fit(X, y)`` this way, which is why this is a
    warning and not an error.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.exceptions import NoSensitiveFeaturesWarning
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> with pytest.warns(NoSensitiveFeaturesWarning):
    ...     _ = MIUnbiasedClassifier(max_epochs=10, lr=1e-2).fit(X, X[:, 0] > 0)
    """


class UninformativeSensitiveFeaturesWarning(FairmineWarning):
    """The sensitive attribute takes a single value in the training data.

    A constant attribute shares no information with anything, so the
    mutual-information penalty cannot act.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.exceptions import UninformativeSensitiveFeaturesWarning
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> with pytest.warns(UninformativeSensitiveFeaturesWarning):
    ...     _ = MIUnbiasedClassifier(max_epochs=10, lr=1e-2).fit(
    ...         X, X[:, 0] > 0, sensitive_features=["a"] * 100
    ...     )
    """


class RepresentationCollapseWarning(FairmineWarning):
    """The learned representation ``z`` is constant over the training data.

    This happens when the mutual-information penalty overwhelms the task
    (``mi_weight`` too high, or gradient clipping switched off): every unit
    of ``z`` dies and the classifier predicts a single class (a far too
    large ``lr`` does it too).

    Examples
    --------
    >>> import warnings
    >>> from fairmine.exceptions import RepresentationCollapseWarning
    >>> warnings.simplefilter("error", RepresentationCollapseWarning)  # make it fail a run
    >>> warnings.resetwarnings()
    """


class DegenerateModelWarning(FairmineWarning):
    """The fitted model is no better than a constant predictor on its own training data.

    ``fit`` warns when the model predicts a single class for every training
    sample, or when its training accuracy is not above the share ``p`` of the
    most frequent class by more than two binomial standard errors,
    ``2 * sqrt(p * (1 - p) / n_samples)`` (a model that answers the majority
    class for nearly every row lands within that margin). A large
    ``mi_weight`` does this when the penalty leaves ``z`` nothing the task can
    use (more often with
    ``criterion="demographic_parity"`` on data whose groups have different
    base rates); too few epochs or a poor ``lr`` do it too. Lower
    ``mi_weight``, try the criterion of the metric you audit, or train longer.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.exceptions import DegenerateModelWarning
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 2)), np.r_[np.zeros(50, int), np.ones(10, int)]
    >>> with pytest.warns(DegenerateModelWarning, match="mi_weight"):
    ...     _ = MIUnbiasedClassifier(max_epochs=1).fit(X, y, sensitive_features=X[:, 0] > 0)
    """


class PenaltySkippedWarning(FairmineWarning):
    """The MI penalty acted on fewer than half of a fit's encoder steps.

    The penalty (and a critic update) needs two rows or more of the
    criterion's rows in a minibatch, with some weight: every row under
    ``"demographic_parity"`` and ``"equalized_odds"``, the rows of
    ``pos_label`` under ``"equal_opportunity"``. A step with fewer is a plain
    task step. ``history_`` counts them per epoch (``train_mi_skipped``,
    ``train_critic_updates``); the warning names the settings to change:
    a larger ``batch_size``, another ``criterion`` or ``pos_label``.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.exceptions import PenaltySkippedWarning
    >>> from fairmine.mi import DonskerVaradhan
    >>> rng = np.random.RandomState(0)
    >>> X, c = rng.normal(size=(20, 2)), rng.randint(0, 2, 20)
    >>> clf = MIUnbiasedClassifier(max_epochs=3, lr=1e-2, batch_size=1, random_state=0,
    ...                            penalty=DonskerVaradhan(warmup_steps=0))
    >>> with pytest.warns(PenaltySkippedWarning, match="batch_size"):
    ...     _ = clf.fit(X, X[:, 0] > 0, sensitive_features=c)
    """


class SmallGroupWarning(FairmineWarning):
    """A group of the attribute is too small on a test fold to measure a disparity.

    Equal opportunity needs positive rows of every group, equalized odds
    positive and negative ones, demographic parity rows of every group.
    ``fairmine sweep`` ([`summarise_sweep`][fairmine.experiments.summarise_sweep]) then
    records NaN for that fold, leaves it out of the means and warns, instead
    of reporting a disparity of a group it never saw. Use fewer folds, or
    merge the smallest groups.

    Examples
    --------
    >>> import warnings
    >>> from fairmine.exceptions import SmallGroupWarning
    >>> warnings.simplefilter("error", SmallGroupWarning)  # make it fail a sweep
    >>> warnings.resetwarnings()
    """


class TrainingDivergedError(RuntimeError):
    """A loss or the mutual-information estimate became NaN or infinite.

    Raised during ``fit`` instead of returning a model that would predict
    NaN. The message names the settings to change.

    Examples
    --------
    >>> import numpy as np, pytest, torch
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.exceptions import TrainingDivergedError
    >>> from fairmine.mi import DonskerVaradhan
    >>> rng = np.random.RandomState(0)
    >>> X, y, c = rng.normal(size=(40, 2)), np.arange(40) % 2, rng.randint(0, 2, 40)
    >>> critic = DonskerVaradhan(lr=1e12, optimizer=torch.optim.SGD)
    >>> clf = MIUnbiasedClassifier(max_epochs=2, penalty=critic)
    >>> with pytest.raises(TrainingDivergedError, match="DonskerVaradhan's lr"):
    ...     clf.fit(X, y, sensitive_features=c)
    """
