"""Mutual information and dependence: bounds, critics, penalties, criteria, estimation, audit.

The maths of fairmine in one place. The training step asks a
[`DependencePenalty`][fairmine.mi.DependencePenalty] for an inner update and a differentiable
penalty ([`DonskerVaradhan`][fairmine.mi.DonskerVaradhan], the paper's, and
[`CLUB`][fairmine.mi.CLUB], [`SlicedDependence`][fairmine.mi.SlicedDependence],
[`HSIC`][fairmine.mi.HSIC]). The training loop of
[`MIUnbiasedClassifier`][fairmine.MIUnbiasedClassifier] and [`estimate_mi`][fairmine.estimate_mi]
share the same critic networks ([`StatisticsNetwork`][fairmine.mi.StatisticsNetwork],
[`ClassifierCritic`][fairmine.mi.ClassifierCritic], chosen by
[`make_critic`][fairmine.mi.make_critic]), update rule ([`critic_step`][fairmine.mi.critic_step])
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
from ._club import CLUB
from ._criteria import CRITERIA, Criterion
from ._critic import CRITIC_TYPES, critic_step, evaluate_bound, make_critic, penalty
from ._donsker_varadhan import DonskerVaradhan
from ._estimate import estimate_mi
from ._hsic import HSIC
from ._marginals import (
    MAX_EXACT_MARGINAL_VALUES,
    DiscreteMarginal,
    ShuffledMarginal,
    make_marginal,
    within_group_permutation,
)
from ._networks import ClassifierCritic, StatisticsNetwork
from ._penalties import PENALTIES, make_penalty
from ._penalty import DependencePenalty, EpochRows, PenaltySetup
from ._sliced import SlicedDependence

__all__ = [
    "CLUB",
    "CRITERIA",
    "CRITIC_TYPES",
    "HSIC",
    "MAX_EXACT_MARGINAL_VALUES",
    "PENALTIES",
    "ClassifierCritic",
    "Criterion",
    "DependencePenalty",
    "DiscreteMarginal",
    "DonskerVaradhan",
    "EpochRows",
    "MIAudit",
    "PenaltySetup",
    "ShuffledMarginal",
    "SlicedDependence",
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
    "make_penalty",
    "penalty",
    "update_log_ema",
    "within_group_permutation",
]
