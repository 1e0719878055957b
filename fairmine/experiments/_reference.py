"""The reference code's settings per benchmark, and the classifier they make."""

from __future__ import annotations

import numbers
from typing import Any

import torch
from sklearn.base import clone
from torch import nn

from .._classifier import MIUnbiasedClassifier
from ..mi import DonskerVaradhan
from ..networks import DigitsCNN, resnet50_backbone

__all__ = ["REFERENCE_SETTINGS", "reference_classifier"]


REFERENCE_SETTINGS: dict[str, dict[str, Any]] = {
    "colored_mnist": {
        "embedding_dim": 64,
        "penalty": DonskerVaradhan(
            hidden=(64, 64, 64), steps=40, lr=1e-4, sampling="fresh", bias_correction=False
        ),
        "mi_weight": 1.0,
        "mi_update": "separate",
        "lr": 1e-4,
        "batch_size": 128,
        "max_epochs": 500,
    },
    "imdb": {
        "embedding_dim": 128,
        "penalty": DonskerVaradhan(
            hidden=(512, 512, 512), steps=20, lr=1e-4, sampling="fresh", bias_correction=False
        ),
        "mi_weight": 0.5,
        "mi_update": "separate",
        "lr": 1e-5,
        "batch_size": 24,
        "max_epochs": 10,
    },
}
"""The reference code's settings per benchmark (rugrag/learn-unbiased; see REFERENCE notes):
``"colored_mnist"`` from its digits script (batch 128, Adam 1e-4 for the network and the critic,
K = 40, lambda 1, critic 3 x 64 leaky ReLU, the two-optimiser update, no EMA, fresh critic
batches, about 500 epochs) and ``"imdb"`` from its IMDB script (batch 24, lr 1e-5, K = 20,
critic 3 x 512, 10 epochs, lambda 0.5 for EB1 and 0.9 for EB2; the reference critic used SGD 0.1
with gradients accumulated over 10 batches; here it is Adam 1e-4 as in the digits script, not
yet run on IMDB).
"""


def reference_classifier(benchmark: str, **overrides: Any) -> MIUnbiasedClassifier:
    """``MIUnbiasedClassifier`` with the reference code's network and settings.

    Parameters
    ----------
    benchmark : {"colored_mnist", "imdb"}
        Which experiment's settings
        ([`REFERENCE_SETTINGS`][fairmine.experiments.REFERENCE_SETTINGS]).
    **overrides
        Any estimator parameter to change, e.g. ``max_epochs`` or
        ``backbone=resnet50_backbone("IMAGENET1K_V1")`` for IMDB, or a setting
        of the reference critic (a [`DonskerVaradhan`][fairmine.mi.DonskerVaradhan]) by
        its nested name, e.g. ``penalty__steps=10``. A ``penalty`` override
        replaces that critic, its nested settings included.

    Returns
    -------
    MIUnbiasedClassifier
        Unfitted; the backbone is [`DigitsCNN`][fairmine.networks.DigitsCNN] for colored MNIST and
        a randomly initialised ResNet-50 trunk for IMDB unless overridden.
        With an integer ``random_state`` among the overrides, that backbone's
        initial weights are drawn from it too (the estimator seeds only the
        layers it adds), so the same seed gives the same fit in any process;
        the global torch random state is left untouched.

    Examples
    --------
    >>> from fairmine.experiments import reference_classifier
    >>> clf = reference_classifier("colored_mnist", max_epochs=5)
    >>> clf.penalty.steps, clf.embedding_dim, type(clf.backbone).__name__
    (40, 64, 'DigitsCNN')
    >>> reference_classifier("colored_mnist", penalty__steps=10).penalty.steps
    10
    """
    if benchmark not in REFERENCE_SETTINGS:
        raise ValueError(
            f"benchmark must be one of {sorted(REFERENCE_SETTINGS)}, got {benchmark!r}"
        )
    # a copy of the settings' penalty: setting its nested parameters leaves the table as it is
    params = {key: clone(value, safe=False) for key, value in REFERENCE_SETTINGS[benchmark].items()}
    if "backbone" not in overrides:
        params["backbone"] = _default_backbone(benchmark, overrides.get("random_state"))
    nested = {key: value for key, value in overrides.items() if "__" in key}
    plain = {key: value for key, value in overrides.items() if "__" not in key}
    return MIUnbiasedClassifier(**params).set_params(**nested).set_params(**plain)


def _default_backbone(benchmark: str, random_state: Any) -> nn.Module:
    """Build the benchmark's own backbone, initialised from ``random_state`` when an int."""
    build = DigitsCNN if benchmark == "colored_mnist" else resnet50_backbone
    if not isinstance(random_state, numbers.Integral):
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        return build()
