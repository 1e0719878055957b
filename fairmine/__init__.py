"""fairmine: unbiased representations by mutual-information backpropagation.

A scikit-learn classifier (:class:`MIUnbiasedClassifier`) that learns a
representation predictive of the task and carrying as little information as
possible about a sensitive or bias attribute, as in Ragonesi et al.,
"Learning Unbiased Representations via Mutual Information Backpropagation";
:class:`MIUnbiasedRegressor` does the same for a continuous target, and
:class:`MIUnbiasedTransformer` makes the representation a pre-processing step
for any downstream model.
"""

from ._estimator import MIUnbiasedClassifier, MIUnbiasedRegressor
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
