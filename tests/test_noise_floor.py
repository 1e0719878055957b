"""disparity_noise_floor: the disparity a fair-by-construction classifier shows on finite rows."""

import numpy as np
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
)

from fairmine.metrics import disparity_noise_floor

FAIRLEARN = {
    "equal_opportunity": equal_opportunity_difference,
    "equalized_odds": equalized_odds_difference,
    "demographic_parity": demographic_parity_difference,
}


def test_exact_value_of_a_small_case():
    # 2 + 2 positives, two predicted positive: of the 6 equally likely placements, 2 put
    # both in one group (gap 1) and 4 split them (gap 0)
    y_true, y_pred, groups = [1, 1, 1, 1, 0], [1, 1, 0, 0, 0], ["a", "a", "b", "b", "a"]
    floor = disparity_noise_floor(y_true, y_pred, sensitive_features=groups, n_permutations=20000)
    assert floor == pytest.approx(1 / 3, abs=0.01)


@pytest.mark.parametrize("metric", sorted(FAIRLEARN))
def test_matches_fairlearn_on_predictions_independent_of_the_group(metric):
    """The floor of one test set ~ the mean fairlearn disparity of fair classifiers on it."""
    rng = np.random.default_rng(0)
    y_true = np.repeat([1, 1, 0, 0], [40, 160, 30, 120])
    groups = np.repeat(["young", "old", "young", "old"], [40, 160, 30, 120])
    # the same rates for both groups: TPR .85 and FPR .3, or one selection rate for DP
    rate = 0.6 if metric == "demographic_parity" else np.where(y_true == 1, 0.85, 0.3)
    draws = [rng.random(len(y_true)) < rate for _ in range(300)]
    expected = np.mean([FAIRLEARN[metric](y_true, d, sensitive_features=groups) for d in draws])
    floor = disparity_noise_floor(
        y_true, draws[0].astype(int), sensitive_features=groups, metric=metric
    )
    assert floor == pytest.approx(expected, abs=0.01)
    assert floor > 0.03  # far from 0 at these group sizes


def test_predictions_constant_within_each_class_have_no_floor():
    y_true = np.array([1, 1, 1, 0, 0, 0])
    groups = np.array([0, 1, 1, 0, 1, 0])
    for metric in ("equal_opportunity", "equalized_odds"):
        assert disparity_noise_floor(y_true, y_true, sensitive_features=groups, metric=metric) == 0
    assert (
        disparity_noise_floor(
            y_true, np.ones(6), sensitive_features=groups, metric="demographic_parity"
        )
        == 0
    )


def test_seeded_and_reproducible():
    rng = np.random.default_rng(1)
    y_true, y_pred, groups = (rng.integers(0, 2, 300) for _ in range(3))
    first, second, other = (
        disparity_noise_floor(y_true, y_pred, sensitive_features=groups, random_state=seed)
        for seed in (0, 0, 1)
    )
    assert first == second != other


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "equal_odds"}, "metric must be one of"),
        ({"n_permutations": 0}, "n_permutations must be a positive integer"),
        ({"n_permutations": 2.5}, "n_permutations must be a positive integer"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        disparity_noise_floor([1, 0], [1, 0], sensitive_features=[0, 1], **kwargs)


def test_inconsistent_lengths_are_refused():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        disparity_noise_floor([1, 0, 1], [1, 0], sensitive_features=[0, 1])
