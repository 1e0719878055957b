"""Regression fairness metrics and their scorers, on values checked by hand."""

import numpy as np
import pytest
import sklearn
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV

from fairmine.metrics import (
    group_mae_gap,
    group_mae_gap_scorer,
    mean_prediction_gap,
    mean_prediction_gap_scorer,
    prediction_ks_distance,
    prediction_ks_scorer,
    worst_group_mae,
    worst_group_mae_scorer,
)

Y_TRUE = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
Y_PRED = np.array([1.0, 2.0, 6.0, 4.0, 4.0, 10.0])
GROUPS = np.array(["a", "a", "a", "b", "b", "b"])
# group a: predictions 1, 2, 6 (mean 3), absolute errors 0, 0, 3 (MAE 1)
# group b: predictions 4, 4, 10 (mean 6), absolute errors 0, 1, 4 (MAE 5/3)


def test_mean_prediction_gap_by_hand():
    assert mean_prediction_gap(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(3.0)


def test_ks_distance_by_hand():
    # CDFs: a steps at 1, 2, 6; b at 4, 4, 10. At 2 (and up to 4): a 2/3, b 0.
    assert prediction_ks_distance(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(2 / 3)
    # disjoint groups are 1 apart, equal ones 0
    assert prediction_ks_distance(None, [0, 0, 1, 1], sensitive_features=[0, 0, 1, 1]) == 1.0
    assert prediction_ks_distance(None, [0, 1, 0, 1], sensitive_features=[0, 0, 1, 1]) == 0.0


def test_ks_distance_takes_the_largest_pair_of_three_groups():
    y_pred = [0, 1, 0, 1, 5, 6]
    groups = [0, 0, 1, 1, 2, 2]  # groups 0 and 1 equal, 2 apart from both
    assert prediction_ks_distance(None, y_pred, sensitive_features=groups) == 1.0
    assert mean_prediction_gap(None, y_pred, sensitive_features=groups) == pytest.approx(5.0)


def test_group_mae_by_hand():
    assert group_mae_gap(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(2 / 3)
    assert worst_group_mae(Y_TRUE, Y_PRED, sensitive_features=GROUPS) == pytest.approx(5 / 3)


def test_a_single_group_and_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="sensitive_features"):
        mean_prediction_gap(None, [1.0, 2.0], sensitive_features=[0, 0])
    with pytest.raises(ValueError, match="inconsistent"):
        worst_group_mae([1.0, 2.0], [1.0, 2.0, 3.0], sensitive_features=[0, 1, 1])


@pytest.mark.parametrize(
    ("scorer", "metric"),
    [
        (mean_prediction_gap_scorer, mean_prediction_gap),
        (prediction_ks_scorer, prediction_ks_distance),
        (group_mae_gap_scorer, group_mae_gap),
        (worst_group_mae_scorer, worst_group_mae),
    ],
)
def test_scorers_negate_the_metric(scorer, metric):
    X = np.arange(6.0).reshape(-1, 1)
    model = LinearRegression().fit(X, Y_PRED)
    expected = metric(Y_TRUE, model.predict(X), sensitive_features=GROUPS)
    assert scorer(model, X, Y_TRUE, sensitive_features=GROUPS) == pytest.approx(-expected)
    assert scorer.get_metadata_routing().score.requests["sensitive_features"] is True


def test_scorers_in_grid_search_with_routing():
    rng = np.random.RandomState(0)
    groups = rng.randint(0, 2, 200)
    X = np.c_[groups, rng.normal(size=200)]
    y = 3 * groups + X[:, 1]
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            DummyRegressor(),
            {"strategy": ["mean", "median"]},
            scoring={"gap": mean_prediction_gap_scorer, "ks": prediction_ks_scorer},
            refit=False,
            cv=2,
        ).fit(X, y, sensitive_features=groups)
    # a constant prediction has no gap between groups (without the attribute the scorers raise)
    np.testing.assert_allclose(search.cv_results_["mean_test_gap"], 0.0, atol=1e-12)
    np.testing.assert_allclose(search.cv_results_["mean_test_ks"], 0.0, atol=1e-12)
