"""Mutual information: bounds, marginal terms, critics, criteria, estimation and audit.

The maths of fairmine in one place. The training loop of
:class:`fairmine.MIUnbiasedClassifier` and :func:`estimate_mi` share the same
critic network (:class:`StatisticsNetwork`), update rule (:func:`critic_step`)
and marginal terms; nothing here imports the estimator.
"""

from ._audit import MIAudit
from ._bounds import (
    adaptive_clip_,
    bias_corrected,
    donsker_varadhan,
    log_mean_exp,
    update_log_ema,
)
from ._criteria import CRITERIA, Criterion
from ._critic import StatisticsNetwork, critic_step, evaluate_bound, penalty
from ._estimate import estimate_mi
from ._marginals import (
    MAX_EXACT_MARGINAL_VALUES,
    DiscreteMarginal,
    ShuffledMarginal,
    make_marginal,
    within_group_permutation,
)

__all__ = [
    "CRITERIA",
    "MAX_EXACT_MARGINAL_VALUES",
    "Criterion",
    "DiscreteMarginal",
    "MIAudit",
    "ShuffledMarginal",
    "StatisticsNetwork",
    "adaptive_clip_",
    "bias_corrected",
    "critic_step",
    "donsker_varadhan",
    "estimate_mi",
    "evaluate_bound",
    "log_mean_exp",
    "make_marginal",
    "penalty",
    "update_log_ema",
    "within_group_permutation",
]
