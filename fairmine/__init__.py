"""fairmine: unbiased representations by mutual-information backpropagation.

A scikit-learn classifier ([`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier]) that learns a
representation predictive of the task and carrying as little information as
possible about a sensitive or bias attribute, as in Ragonesi et al.,
"Learning Unbiased Representations via Mutual Information Backpropagation";
[`MIUnbiasedRegressor`][fairmine.MIUnbiasedRegressor] does the same for a continuous target, and
[`MIUnbiasedTransformer`][fairmine.MIUnbiasedTransformer] makes the representation a
pre-processing step for any downstream model.
"""

from ._classifier import MIUnbiasedClassifier
from ._regressor import MIUnbiasedRegressor
from ._representation import MIUnbiasedTransformer
from .mi import estimate_mi

__all__ = [
    "MIUnbiasedClassifier",
    "MIUnbiasedRegressor",
    "MIUnbiasedTransformer",
    "__version__",
    "estimate_mi",
]

__version__ = "0.1.0.dev0"
