"""MIUnbiasedTransformer: fairmine's z as a pipeline step in front of any model."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from fairmine import MIUnbiasedClassifier, MIUnbiasedRegressor, MIUnbiasedTransformer
from fairmine.mi import DonskerVaradhan

pytestmark = [
    # plumbing checks with fits of a few epochs, which these warnings rightly flag
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning"),
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.RepresentationCollapseWarning"),
]

FAST = {
    "max_epochs": 3,
    "lr": 1e-2,
    "penalty": DonskerVaradhan(steps=1, warmup_steps=2),
    "random_state": 0,
}

# A critic that does run, and few epochs: a transformer's checks demand no training accuracy.
# The checks fit without sensitive_features, which warns by design.
CHECKED = MIUnbiasedTransformer(**FAST)
EXPECTED_FAILED_CHECKS = {
    # the engine's weighted fit matches the fit on repeated rows to ~1e-7 absolute (float32
    # sums in another order, as for the estimators), which standardising z scales up to ~1e-6;
    # the check demands 1e-7 relative
    "check_sample_weight_equivalence_on_dense_data": "float32 sums differ by ~1e-7",
}


@parametrize_with_checks([CHECKED], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
@pytest.mark.filterwarnings("ignore::fairmine.exceptions.NoSensitiveFeaturesWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(params=[True, False], ids=["routing-on", "routing-off"])
def routing(request):
    with sklearn.config_context(enable_metadata_routing=request.param):
        yield request.param


def _pipeline(downstream):
    return Pipeline([("fair", MIUnbiasedTransformer(**FAST)), ("model", downstream)])


def _fit_params(routing: bool, sensitive) -> dict:
    """With routing the attribute goes by its name; without, by the step's."""
    return {("" if routing else "fair__") + "sensitive_features": sensitive}


@pytest.mark.parametrize(
    "downstream", [LogisticRegression(), HistGradientBoostingClassifier(max_iter=5)]
)
def test_pipeline_routes_the_attribute_to_the_step_at_fit_only(routing, biased_data, downstream):
    X, y, group = biased_data
    pipe = _pipeline(downstream).fit(X, y, **_fit_params(routing, group))
    fair = pipe.named_steps["fair"]
    assert np.isfinite(fair.estimator_.history_[:, "train_mi"]).all()  # the penalty ran
    assert pipe.predict(X).shape == (len(y),)  # X alone
    with pytest.raises(TypeError, match="fit time only"):
        fair.transform(X, sensitive_features=group)


def test_routing_on_needs_no_set_fit_request():
    with sklearn.config_context(enable_metadata_routing=True):
        requests = MIUnbiasedTransformer().get_metadata_routing().fit.requests
    assert requests == {"sensitive_features": True, "sample_weight": None}


def test_grid_search_over_the_step_and_the_downstream_model(routing, biased_data):
    X, y, group = biased_data
    search = GridSearchCV(
        _pipeline(LogisticRegression()),
        {"fair__mi_weight": [0.0, 1.0]},
        cv=2,
    )
    search.fit(X, y, **_fit_params(routing, group))
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_feature_names_and_pandas_output(biased_data):
    X, y, group = biased_data
    frame = pd.DataFrame(X, columns=["signal", "group_proxy", "noise_a", "noise_b"])
    fair = MIUnbiasedTransformer(embedding_dim=4, **FAST).set_output(transform="pandas")
    z = fair.fit(frame, y, sensitive_features=group).transform(frame)
    names = [f"miunbiasedtransformer{i}" for i in range(4)]
    assert isinstance(z, pd.DataFrame) and list(z.columns) == names
    assert list(fair.get_feature_names_out()) == names
    assert list(fair.feature_names_in_) == list(frame.columns)


def test_z_is_standardised_on_the_training_rows(biased_data):
    X, y, group = biased_data
    fair = MIUnbiasedTransformer(**FAST).fit(X, y, sensitive_features=group)
    z, raw = fair.transform(X), fair.estimator_.transform(X)
    varying = raw.std(0) > 1e-6
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, varying].std(0), 1, rtol=1e-4)
    np.testing.assert_array_equal(z[:, ~varying], 0)  # a constant unit is centred only
    assert z.dtype == np.float32
    plain = clone(fair).set_params(standardize=False).fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(plain.transform(X), raw)


def test_the_task_picks_the_engine(biased_data):
    X, y, group = biased_data
    classes = MIUnbiasedTransformer(**FAST).fit(X, y, sensitive_features=group)
    assert classes.task_ == "classification"
    assert type(classes.estimator_) is MIUnbiasedClassifier
    target = X[:, 0] * 3.0 + 1.0
    pipe = Pipeline([("fair", MIUnbiasedTransformer(**FAST)), ("model", Ridge())])
    pipe.fit(X, target, fair__sensitive_features=group)
    assert pipe.named_steps["fair"].task_ == "regression"
    assert type(pipe.named_steps["fair"].estimator_) is MIUnbiasedRegressor
    forced = MIUnbiasedTransformer(task="regression", **FAST).fit(X, y, sensitive_features=group)
    assert type(forced.estimator_) is MIUnbiasedRegressor


def test_auto_penalty_is_a_classifier_critic_of_ten_steps(biased_data):
    X, y, group = biased_data
    fair = MIUnbiasedTransformer(max_epochs=1, random_state=0)
    fair.fit(X, y, sensitive_features=group)
    assert isinstance(fair.estimator_.penalty, DonskerVaradhan)
    assert fair.estimator_.penalty.steps == 10
    assert fair.estimator_.penalty.critic_type == "auto"  # a classifier for a binary attribute
    assert type(fair.estimator_.net_.critic_).__name__ == "ClassifierCritic"
    assert fair.estimator_.critic_steps_ == 10
    assert fair.get_params()["penalty"] == "auto"  # the parameter is stored as given


def test_a_refused_fit_leaves_the_transformer_as_it_was(biased_data):
    X, y, group = biased_data
    fair = MIUnbiasedTransformer(**FAST).fit(X, y, sensitive_features=group)
    before = fair.transform(X)
    with pytest.raises(ValueError, match="sensitive_features has"):
        fair.fit(X, y, sensitive_features=group[:10])
    np.testing.assert_array_equal(fair.transform(X), before)
