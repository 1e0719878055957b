"""Warnings and errors raised by fairmine.

Each class has one meaning, so that users (and scikit-learn's estimator checks)
can filter exactly the situation they expect and nothing else.
"""

__all__ = [
    "FairmineWarning",
    "NoSensitiveFeaturesWarning",
    "RepresentationCollapseWarning",
    "TrainingDivergedError",
    "UninformativeSensitiveFeaturesWarning",
]


class FairmineWarning(UserWarning):
    """Base class of every warning fairmine emits."""


class NoSensitiveFeaturesWarning(FairmineWarning):
    """``fit`` was called without ``sensitive_features``.

    The mutual-information penalty is then switched off and the estimator
    trains as plain empirical risk minimisation (ERM). scikit-learn's own
    estimator checks call ``fit(X, y)`` this way, which is why this is a
    warning and not an error.
    """


class UninformativeSensitiveFeaturesWarning(FairmineWarning):
    """The sensitive attribute takes a single value in the training data.

    A constant attribute shares no information with anything, so the
    mutual-information penalty cannot act.
    """


class RepresentationCollapseWarning(FairmineWarning):
    """The learned representation ``z`` is constant over the training data.

    This happens when the mutual-information penalty overwhelms the task
    (``mi_weight`` too high, or gradient clipping switched off): every unit
    of ``z`` dies and the classifier predicts a single class.
    """


class TrainingDivergedError(RuntimeError):
    """A loss or the mutual-information estimate became NaN or infinite.

    Raised during ``fit`` instead of returning a model that would predict
    NaN. The message names the settings to change.
    """
