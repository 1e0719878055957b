"""MIUnbiasedRegressor: the classifier's engine on a continuous target."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import GridSearchCV
from skorch.dataset import ValidSplit
from torch import nn

from fairmine import MIUnbiasedRegressor
from fairmine.metrics import mean_prediction_gap, mean_prediction_gap_scorer
from fairmine.mi import Criterion, DonskerVaradhan, MIAudit

FAST = {
    "max_epochs": 5,
    "lr": 1e-2,
    "penalty": DonskerVaradhan(steps=2, warmup_steps=5),
    "random_state": 0,
}


def make_regression_data(n: int, seed: int = 0):
    """y = signal + 2 * group + noise, in units of 100 around 1000; one column reveals the group."""
    rng = np.random.RandomState(seed)
    group = rng.randint(0, 2, n)
    signal = rng.normal(size=n)
    y = 1000 + 100 * (signal + 2 * group + rng.normal(scale=0.3, size=n))
    X = np.c_[signal, group + rng.normal(scale=0.1, size=n), rng.normal(size=(n, 2))]
    return X.astype(np.float32), y, group


@pytest.fixture(scope="module")
def data():
    return make_regression_data(400)


def test_predictions_are_in_the_units_of_y(data):
    X, y, group = data
    reg = MIUnbiasedRegressor(mi_weight=0, max_epochs=20, lr=1e-2, random_state=0)
    reg.fit(X, y, sensitive_features=group)
    assert reg.target_mean_ == pytest.approx(y.mean())
    assert reg.target_scale_ == pytest.approx(y.std())
    prediction = reg.predict(X)
    assert prediction.dtype == np.float64 and prediction.shape == (len(y),)
    assert abs(prediction.mean() - y.mean()) < 0.1 * y.std()
    assert reg.score(X, y) > 0.9
    assert reg.transform(X).shape == (len(y), reg.embedding_dim)
    assert reg.net_.module_.head.out_features == 1


def test_the_penalty_shrinks_the_gap_in_mean_prediction(data):
    X, y, group = data
    X_test, _, group_test = make_regression_data(400, seed=1)
    gaps = {}
    for weight in (0, 5):
        reg = MIUnbiasedRegressor(mi_weight=weight, max_epochs=20, lr=1e-2, random_state=0)
        reg.fit(X, y, sensitive_features=group)
        gaps[weight] = mean_prediction_gap(None, reg.predict(X_test), sensitive_features=group_test)
    # ERM predicts the groups' true gap of about 200; the penalty removes most of it
    assert gaps[0] > 150
    assert gaps[5] < 0.5 * gaps[0]


def test_loss_selects_the_engine_criterion(data):
    X, y, group = data
    for loss, expected in (("squared_error", nn.MSELoss), ("huber", nn.HuberLoss)):
        reg = MIUnbiasedRegressor(loss=loss, **FAST).fit(X, y, sensitive_features=group)
        assert type(reg.net_.criterion_) is expected
        assert np.isfinite(reg.history_[:, "train_task_loss"]).all()


def test_equalized_odds_conditions_on_quantile_bins(data):
    X, y, group = data
    reg = MIUnbiasedRegressor(criterion="equalized_odds", n_bins=4, **FAST)
    reg.fit(X, y, sensitive_features=group)
    standard = (y - y.mean()) / y.std()
    np.testing.assert_allclose(
        reg.target_bin_edges_, np.quantile(standard, [0.25, 0.5, 0.75], method="inverted_cdf")
    )
    criterion = reg.net_.mi_criterion
    assert criterion.n_groups == 4
    _, _, given, _ = criterion.select(standard, group, standard)
    assert np.bincount(given).tolist() == [100, 100, 100, 100]


def test_criterion_bins_torch_and_numpy_alike():
    criterion = Criterion("equalized_odds", n_classes=3, edges=(0.0, 1.0))
    y = np.array([-1.0, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)
    expected = [0, 0, 1, 1, 2]  # a y equal to an edge falls in the lower bin
    assert criterion.select(y, y, y)[2].tolist() == expected
    assert criterion.select(y, y, torch.from_numpy(y).reshape(-1, 1))[2].tolist() == expected


def test_equal_opportunity_is_refused(data):
    X, y, group = data
    reg = MIUnbiasedRegressor(criterion="equal_opportunity", **FAST)
    with pytest.raises(ValueError, match=r"equal_opportunity.*continuous target"):
        reg.fit(X, y, sensitive_features=group)


def test_pos_label_is_not_a_parameter():
    assert "pos_label" not in MIUnbiasedRegressor().get_params()
    assert {"loss", "n_bins"} <= set(MIUnbiasedRegressor().get_params())


def test_bad_target_and_loss_name_the_argument(data):
    X, y, group = data
    with pytest.raises(ValueError, match="y"):
        MIUnbiasedRegressor(**FAST).fit(X, np.array(["a", "b"] * 200), sensitive_features=group)
    with pytest.raises(ValueError, match="loss"):
        MIUnbiasedRegressor(loss="absolute", **FAST).fit(X, y, sensitive_features=group)
    with pytest.raises(TypeError, match="sensitive_features"):
        MIUnbiasedRegressor(**FAST).fit(X, y, sensitive_features=group).predict(
            X, sensitive_features=group
        )


def test_zero_weights_standardise_like_removed_rows(data):
    X, y, group = data
    weight = np.r_[np.ones(300), np.zeros(100)]
    reg = MIUnbiasedRegressor(criterion="equalized_odds", **FAST)
    reg.fit(X, y, sensitive_features=group, sample_weight=weight)
    kept = MIUnbiasedRegressor(criterion="equalized_odds", **FAST)
    kept.fit(X[:300], y[:300], sensitive_features=group[:300])
    assert reg.target_mean_ == pytest.approx(kept.target_mean_)
    assert reg.target_scale_ == pytest.approx(kept.target_scale_)
    np.testing.assert_allclose(reg.target_bin_edges_, kept.target_bin_edges_)


def test_validation_split_records_no_accuracy(data):
    X, y, group = data
    reg = MIUnbiasedRegressor(train_split=ValidSplit(0.2, random_state=0), **FAST)
    reg.fit(X, y, sensitive_features=group)
    assert np.isfinite(reg.history_[:, "valid_task_loss"]).all()
    assert np.isfinite(reg.history_[:, "valid_mi"]).all()
    assert "valid_acc" not in reg.history_[-1]


def test_seeded_fits_repeat_and_pickle(data):
    X, y, group = data
    first = MIUnbiasedRegressor(**FAST).fit(X, y, sensitive_features=group)
    second = MIUnbiasedRegressor(**FAST).fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    loaded = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(loaded.predict(X), first.predict(X))


def test_grid_search_routes_the_attribute_to_fit_and_scorer(data):
    X, y, group = data
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            MIUnbiasedRegressor(**FAST),
            {"mi_weight": [0.0, 3.0]},
            scoring={"r2": "r2", "gap": mean_prediction_gap_scorer},
            refit="r2",
            cv=2,
        ).fit(X, y, sensitive_features=group)
    assert MIUnbiasedRegressor().get_metadata_routing().fit.requests["sensitive_features"]
    gaps = search.cv_results_["mean_test_gap"]
    assert np.isfinite(gaps).all() and (gaps < 0).all()


def test_mi_audit_conditions_on_the_regressors_bins(data):
    X, y, group = data
    reg = MIUnbiasedRegressor(
        criterion="equalized_odds", callbacks=[MIAudit(every=5, max_steps=50)], **FAST
    ).fit(X, y, sensitive_features=group)
    assert np.isfinite(reg.history_[-1]["audit_mi"])
