"""The two MI figures the protocols report beside accuracy: training critic and fresh audit."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import make_mi_scorer

__all__ = ["mi_figures"]


def mi_figures(model: Any, X_test: Any, y_test: np.ndarray, c_test: Any) -> dict[str, float]:
    """Return ``train_mi`` and ``audit_mi`` of a fitted fairmine model, or {} for others.

    ``train_mi`` is the training critic's estimate on the last epoch's
    minibatches (NaN when no critic was trained, as with ``mi_weight=0``);
    ``audit_mi`` is [`estimate_mi`][fairmine.estimate_mi] of a fresh critic on the
    held-out ``z = model.transform(X_test)``, under the model's criterion
    (``random_state=0``). Only the second is evidence of what ``z`` still
    carries: the encoder learns to hide the attribute from the first.

    Parameters
    ----------
    model : estimator
        A fitted model; figures are returned only when it has ``history_``
        and ``transform`` (a fitted ``MIUnbiasedClassifier``).
    X_test, y_test, c_test
        Held-out inputs, labels and attribute.

    Returns
    -------
    dict
        ``{"train_mi": float, "audit_mi": float}``, or empty.
    """
    if not (hasattr(model, "history_") and hasattr(model, "transform")):
        return {}
    audit = -make_mi_scorer(random_state=0)(model, X_test, y_test, sensitive_features=c_test)
    return {"train_mi": float(model.history_[-1].get("train_mi", np.nan)), "audit_mi": audit}
