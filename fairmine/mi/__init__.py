"""Mutual information: bounds, marginal terms, critics, criteria, estimation and audit.

The maths of fairmine in one place. The training loop of
:class:`fairmine.MIUnbiasedClassifier` and :func:`estimate_mi` share the same
critic networks (:class:`StatisticsNetwork`, :class:`ClassifierCritic`, chosen
by :func:`make_critic`), update rule (:func:`critic_step`) and marginal terms;
nothing here imports the estimator.
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
from ._critic import CRITIC_TYPES, critic_step, evaluate_bound, make_critic, penalty
from ._estimate import estimate_mi
from ._marginals import (
    MAX_EXACT_MARGINAL_VALUES,
    DiscreteMarginal,
    ShuffledMarginal,
    make_marginal,
    within_group_permutation,
)
from ._networks import ClassifierCritic, StatisticsNetwork

__all__ = [
    "CRITERIA",
    "CRITIC_TYPES",
    "MAX_EXACT_MARGINAL_VALUES",
    "ClassifierCritic",
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
    "make_critic",
    "make_marginal",
    "penalty",
    "update_log_ema",
    "within_group_permutation",
]
