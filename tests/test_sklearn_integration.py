"""Pipelines, grid search, cross-validation and scorers, with metadata routing on and off."""

import pickle
import re
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import (
    check_estimators_overwrite_params,
    check_get_params_invariance,
    check_set_params,
)

from fairmine import MIUnbiasedClassifier, MIUnbiasedRegressor
from fairmine.metrics import (
    demographic_parity_scorer,
    equal_opportunity_scorer,
    equalized_odds_scorer,
)
from fairmine.mi import HSIC, DonskerVaradhan, SlicedDependence, make_penalty

# these tests check plumbing with fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

FAST = {"max_epochs": 2, "penalty": DonskerVaradhan(steps=1, warmup_steps=2), "random_state": 0}


@pytest.fixture(params=[True, False], ids=["routing-on", "routing-off"])
def routing(request):
    with sklearn.config_context(enable_metadata_routing=request.param):
        yield request.param


def _fit_params(routing: bool, sensitive, prefix: str = "") -> dict:
    """How a user passes the attribute: by its name with routing, by step name without."""
    return {("" if routing else prefix) + "sensitive_features": sensitive}


class RecordingClassifier(MIUnbiasedClassifier):
    """Records the rows it is fitted on, to check that each fold gets its own slice."""

    fits: ClassVar[list] = []

    def fit(self, X, y, *, sensitive_features=None):
        X = np.asarray(X)
        RecordingClassifier.fits.append((X[:, 0].copy(), np.asarray(sensitive_features)))
        return super().fit(X, y, sensitive_features=sensitive_features)


@pytest.fixture
def aligned_data():
    """Column 0 is a unique row id; the attribute is a string derived from it."""
    rng = np.random.RandomState(0)
    n = 120
    row_id = np.arange(n, dtype=float)
    X = np.c_[row_id, rng.normal(size=(n, 3))]
    y = (X[:, 1] > 0).astype(int)
    sensitive = np.where(row_id % 3 == 0, "third", "rest")
    return X, y, sensitive


def _assert_slices_aligned(n_fits: int):
    assert len(RecordingClassifier.fits) == n_fits
    for row_id, sensitive in RecordingClassifier.fits:
        assert len(row_id) == len(sensitive)
        expected = np.where(row_id.astype(int) % 3 == 0, "third", "rest")
        np.testing.assert_array_equal(sensitive, expected)


@pytest.fixture
def german_frame():
    from fairmine.datasets import load_german

    german = load_german()
    X = german.data.iloc[:300]
    X = X.astype({c: str for c in X.select_dtypes("category").columns})  # plain strings
    age_group = pd.Series(np.where(X["age"] < 25, "young", "older"), name="age_group")
    return X, german.target.iloc[:300], age_group


def _german_pipeline(**params):
    prep = ColumnTransformer(
        [
            (
                "text",
                OneHotEncoder(handle_unknown="ignore"),
                make_column_selector(dtype_exclude="number"),
            ),
            ("numbers", StandardScaler(), make_column_selector(dtype_include="number")),
        ]
    )
    return Pipeline([("prep", prep), ("clf", MIUnbiasedClassifier(**{**FAST, **params}))])


def test_pipeline_on_a_dataframe_with_string_categories(routing, german_frame):
    X, y, age_group = german_frame
    pipe = _german_pipeline()
    pipe.fit(X, y, **_fit_params(routing, age_group, "clf__"))
    clf = pipe.named_steps["clf"]
    assert np.isfinite(clf.history_[:, "train_mi"]).all()
    assert hasattr(clf.net_, "critic_")
    assert pipe.predict_proba(X).shape == (300, 2)


def test_sensitive_features_are_requested_without_set_fit_request():
    with sklearn.config_context(enable_metadata_routing=True):
        requests = MIUnbiasedClassifier().get_metadata_routing().fit.requests
    # sample_weight follows scikit-learn's convention: routed once requested explicitly
    assert requests == {"sensitive_features": True, "sample_weight": None}


def test_grid_search_gives_each_fold_its_slice(routing, aligned_data):
    X, y, sensitive = aligned_data
    RecordingClassifier.fits = []
    search = GridSearchCV(
        RecordingClassifier(**FAST),
        {"mi_weight": [0.0, 1.0], "penalty__steps": [1, 2]},
        cv=KFold(3, shuffle=True, random_state=0),
    )
    search.fit(X, y, sensitive_features=sensitive)
    _assert_slices_aligned(4 * 3 + 1)  # 4 candidates x 3 folds, then the refit on all rows
    assert [len(row_id) for row_id, _ in RecordingClassifier.fits] == [80] * 12 + [120]
    assert search.best_params_["mi_weight"] in (0.0, 1.0)


def test_grid_search_over_a_pipeline(routing, german_frame):
    X, y, age_group = german_frame
    search = GridSearchCV(
        _german_pipeline(), {"clf__mi_weight": [0.0, 2.0], "clf__penalty__steps": [1, 2]}, cv=2
    )
    search.fit(X, y, **_fit_params(routing, age_group, "clf__"))
    assert set(search.cv_results_["param_clf__mi_weight"]) == {0.0, 2.0}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_cross_validate_with_params(routing, aligned_data):
    X, y, sensitive = aligned_data
    RecordingClassifier.fits = []
    results = cross_validate(
        RecordingClassifier(**FAST), X, y, cv=3, params={"sensitive_features": sensitive}
    )
    _assert_slices_aligned(3)
    assert [len(row_id) for row_id, _ in RecordingClassifier.fits] == [80] * 3
    assert len(results["test_score"]) == 3


# -------------------------------------------------------------------- scorers
def test_fairness_scorers_in_multi_metric_grid_search_with_routing(aligned_data):
    X, y, sensitive = aligned_data
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            MIUnbiasedClassifier(**FAST),
            {"mi_weight": [0.0, 1.0]},
            scoring={
                "accuracy": "accuracy",
                "eo": equal_opportunity_scorer,
                "eodds": equalized_odds_scorer,
                "dp": demographic_parity_scorer,
            },
            refit="eo",
            cv=2,
            error_score="raise",
        ).fit(X, y, sensitive_features=sensitive)
    for key in ("eo", "eodds", "dp"):
        scores = search.cv_results_[f"mean_test_{key}"]
        assert np.isfinite(scores).all()
        assert (scores <= 0).all()  # negated disparities
    assert search.best_index_ == int(np.argmax(search.cv_results_["mean_test_eo"]))


def test_fairness_scorer_values_match_fairlearn(biased_data):
    from fairlearn.metrics import equal_opportunity_difference

    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)
    expected = equal_opportunity_difference(y, clf.predict(X), sensitive_features=group)
    assert equal_opportunity_scorer(clf, X, y, sensitive_features=group) == -expected
    # and those of scikit-learn's public make_scorer with the same metric and sign
    from sklearn.metrics import make_scorer

    with sklearn.config_context(enable_metadata_routing=True):
        public = make_scorer(equal_opportunity_difference, greater_is_better=False)
        public.set_score_request(sensitive_features=True)
        assert public(clf, X, y, sensitive_features=group) == -expected


def test_fairness_scorer_without_routing_says_how_to_turn_it_on(aligned_data):
    X, y, sensitive = aligned_data
    search = GridSearchCV(
        MIUnbiasedClassifier(**FAST),
        {"mi_weight": [0.0]},
        scoring=equal_opportunity_scorer,
        cv=2,
        error_score="raise",
    )
    with sklearn.config_context(enable_metadata_routing=False):
        with pytest.raises(ValueError, match=r"enable_metadata_routing=True"):
            search.fit(X, y, sensitive_features=sensitive)


# ------------------------------- nested names on a penalty given by name (issue 38, case 8)
#: the default penalty with a setting that makes it cheap: the named default's warm-up is 100
CHEAP_DEFAULT = {"max_epochs": 2, "lr": 1e-2, "random_state": 0}


def test_a_grid_search_over_the_settings_of_the_default_penalty(biased_data):
    X, y, group = biased_data
    search = GridSearchCV(
        MIUnbiasedClassifier(**CHEAP_DEFAULT),
        {"penalty__steps": [1, 2], "penalty__warmup_steps": [0]},
        cv=KFold(2, shuffle=True, random_state=0),
    )
    search.fit(X, y, sensitive_features=group)
    assert sorted(search.cv_results_["param_penalty__steps"]) == [1, 2]
    best = search.best_estimator_
    assert best.critic_steps_ == search.best_params_["penalty__steps"]
    assert (
        best.penalty.get_params()
        == DonskerVaradhan(steps=best.critic_steps_, warmup_steps=0).get_params()
    )
    # a nested name on the name trains what the object with that setting trains, bit for bit
    by_object = MIUnbiasedClassifier(
        **CHEAP_DEFAULT, penalty=DonskerVaradhan(steps=best.critic_steps_, warmup_steps=0)
    ).fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(best.predict_proba(X), by_object.predict_proba(X))


def test_the_regressor_takes_nested_names_on_its_named_penalties(biased_data):
    X, _, group = biased_data
    target = X[:, 0] + group
    search = GridSearchCV(
        MIUnbiasedRegressor(**CHEAP_DEFAULT),
        {"penalty__steps": [1, 2], "penalty__warmup_steps": [0]},
        cv=KFold(2, shuffle=True, random_state=0),
    )
    search.fit(X, target, sensitive_features=group)
    assert search.best_estimator_.critic_steps_ == search.best_params_["penalty__steps"]
    sliced = MIUnbiasedRegressor(penalty="sliced").set_params(penalty__n_slices=3)
    assert sliced.penalty.get_params() == SlicedDependence(n_slices=3).get_params()


@pytest.mark.parametrize("estimator", [MIUnbiasedClassifier, MIUnbiasedRegressor])
@pytest.mark.parametrize("penalty", ["donsker_varadhan", "classifier_critic", "sliced", "hsic"])
def test_get_params_lists_the_settings_of_a_named_penalty_and_round_trips(estimator, penalty):
    est = estimator(penalty=penalty)
    params = est.get_params()
    settings = make_penalty(penalty).get_params()
    assert {f"penalty__{name}": value for name, value in settings.items()}.items() <= params.items()
    shallow = est.get_params(deep=False)
    assert est.set_params(**params) is est
    # the settings are the name's own: the name stays, and every parameter is what it was
    assert all(est.get_params(deep=False)[name] is value for name, value in shallow.items())


def test_a_nested_name_makes_the_object_and_leaves_other_estimators_alone():
    clf = MIUnbiasedClassifier(penalty="classifier_critic").set_params(penalty__steps=3)
    expected = DonskerVaradhan(critic_type="classifier", steps=3)
    assert clf.penalty.get_params() == expected.get_params()
    assert MIUnbiasedClassifier().penalty == "donsker_varadhan"  # no shared default was changed
    twin = clone(clf)
    assert twin.penalty is not clf.penalty
    assert twin.penalty.get_params() == clf.penalty.get_params()
    assert pickle.loads(pickle.dumps(clf)).penalty.get_params() == clf.penalty.get_params()
    # plain names first, then nested ones, as in scikit-learn
    clf.set_params(penalty="hsic", penalty__normalize=True)
    assert clf.penalty.get_params() == HSIC(normalize=True).get_params()
    # in a pipeline, by the step's name
    pipe = Pipeline([("clf", MIUnbiasedClassifier())])
    assert pipe.get_params()["clf__penalty__steps"] == "auto"
    pipe.set_params(clf__penalty__steps=5)
    assert pipe.named_steps["clf"].penalty.steps == 5


def test_a_bad_nested_name_on_a_named_penalty_is_scikit_learns_error_and_changes_nothing():
    clf = MIUnbiasedClassifier()
    with pytest.raises(ValueError, match=r"^Invalid parameter 'n_slices' for estimator Donsker"):
        clf.set_params(penalty__n_slices=3)
    assert clf.penalty == "donsker_varadhan"
    with pytest.raises(ValueError, match=r"^penalty must be one of .* got 'mine'"):
        MIUnbiasedClassifier(penalty="mine").set_params(penalty__steps=3)


@pytest.mark.parametrize(
    ("estimator", "key", "value"),
    [
        (MIUnbiasedRegressor, "loss__delta", "'squared_error'"),
        (MIUnbiasedClassifier, "optimizer__momentum", "<class 'torch.optim.adam.Adam'>"),
        (MIUnbiasedClassifier, "criterion__positive", "'demographic_parity'"),
        (MIUnbiasedClassifier, "backbone__out_features", "None"),
        (MIUnbiasedRegressor, "callbacks__patience", "None"),
    ],
)
def test_a_nested_name_on_a_value_without_settings_is_an_error_naming_it(estimator, key, value):
    name = key.partition("__")[0]
    with pytest.raises(ValueError, match=rf"^Invalid parameter '{key}' for {estimator.__name__}: "):
        estimator().set_params(**{key: 2})
    with pytest.raises(ValueError, match=re.escape(f"{name}={value} has no settings of its own")):
        estimator().set_params(**{key: 2})


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.NoSensitiveFeaturesWarning")
@pytest.mark.parametrize("estimator", [MIUnbiasedClassifier, MIUnbiasedRegressor])
@pytest.mark.parametrize(
    "check", [check_get_params_invariance, check_set_params, check_estimators_overwrite_params]
)
def test_scikit_learns_parameter_checks_pass_with_a_named_penalty(estimator, check):
    check(estimator.__name__, estimator(penalty="hsic", max_epochs=2, random_state=0))
