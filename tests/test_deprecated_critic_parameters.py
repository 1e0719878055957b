"""The critic's settings moved into ``DonskerVaradhan``: the old estimator parameters warn and map.

Each deprecated ``critic_*`` parameter still configures ``penalty="donsker_varadhan"`` (and
``"classifier_critic"``) with a ``FutureWarning`` that names its replacement, and trains what
the penalty object with that setting trains, bit for bit; with another penalty it is an error.
"""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold

from fairmine import MIUnbiasedClassifier, MIUnbiasedRegressor
from fairmine.mi import HSIC, DonskerVaradhan

# these tests compare fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

BASE = {"max_epochs": 2, "lr": 1e-2, "random_state": 0}

#: each deprecated parameter, its DonskerVaradhan setting, and a value other than the default
DEPRECATED = [
    ("critic_steps", "steps", 2),
    ("critic_lr", "lr", 5e-3),
    ("critic_optimizer", "optimizer", torch.optim.AdamW),
    ("critic_type", "critic_type", "classifier"),
    ("critic_hidden", "hidden", (16,)),
    ("critic_warmup_steps", "warmup_steps", 5),
    ("critic_sampling", "sampling", "fresh"),
    ("critic_bank_size", "bank_size", 128),
    ("critic_batch_size", "batch_size", 32),
    ("bias_correction", "bias_correction", False),
    ("bias_correction_rate", "bias_correction_rate", 0.1),
]
NAMES = [name for name, _, _ in DEPRECATED]


@pytest.fixture(scope="module")
def default_proba(biased_data):
    X, y, group = biased_data
    return MIUnbiasedClassifier(**BASE).fit(X, y, sensitive_features=group).predict_proba(X)


@pytest.mark.parametrize(("name", "setting", "value"), DEPRECATED, ids=NAMES)
def test_each_deprecated_parameter_warns_and_trains_like_the_penalty_object(
    biased_data, default_proba, name, setting, value
):
    X, y, group = biased_data
    old = MIUnbiasedClassifier(**BASE, **{name: value})
    with pytest.warns(FutureWarning, match=rf"^{name} is deprecated.*DonskerVaradhan\({setting}="):
        old.fit(X, y, sensitive_features=group)
    new = MIUnbiasedClassifier(**BASE, penalty=DonskerVaradhan(**{setting: value}))
    new.fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
    # and the setting did change the fit: the test can fail
    assert not np.array_equal(old.predict_proba(X), default_proba)
    assert old.get_params()[name] == value  # the parameter is stored as given


def test_a_deprecated_parameter_configures_the_classifier_critic(biased_data):
    X, y, group = biased_data
    old = MIUnbiasedClassifier(**BASE, penalty="classifier_critic", critic_steps=2)
    with pytest.warns(FutureWarning, match=r"DonskerVaradhan\(critic_type='classifier', steps=2\)"):
        old.fit(X, y, sensitive_features=group)
    new = MIUnbiasedClassifier(**BASE, penalty=DonskerVaradhan(critic_type="classifier", steps=2))
    new.fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))


def test_the_regressor_maps_them_too(biased_data):
    X, _, group = biased_data
    target = X[:, 0] + group
    old = MIUnbiasedRegressor(**BASE, critic_warmup_steps=5)
    with pytest.warns(FutureWarning, match="critic_warmup_steps is deprecated"):
        old.fit(X, target, sensitive_features=group)
    new = MIUnbiasedRegressor(**BASE, penalty=DonskerVaradhan(warmup_steps=5))
    new.fit(X, target, sensitive_features=group)
    np.testing.assert_array_equal(old.predict(X), new.predict(X))


@pytest.mark.parametrize("penalty", ["donsker_varadhan", "classifier_critic"])
def test_the_names_are_the_penalty_objects_with_their_defaults(biased_data, penalty):
    X, y, group = biased_data
    by_name = MIUnbiasedClassifier(**BASE, penalty=penalty).fit(X, y, sensitive_features=group)
    critic_type = "classifier" if penalty == "classifier_critic" else "concat"
    by_object = MIUnbiasedClassifier(**BASE, penalty=DonskerVaradhan(critic_type=critic_type))
    by_object.fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(by_name.predict_proba(X), by_object.predict_proba(X))
    assert (by_name.critic_steps_, by_name.critic_bank_size_) == (
        by_object.critic_steps_,
        by_object.critic_bank_size_,
    )


@pytest.mark.parametrize(
    ("penalty", "match"),
    [
        ("hsic", r"^critic_steps=3 configures the Donsker-Varadhan critic.*penalty='hsic'"),
        ("club", r"^critic_steps=3 configures the Donsker-Varadhan critic.*penalty='club'"),
        (HSIC(), r"^critic_steps=3 configures the Donsker-Varadhan critic.*penalty=HSIC\(\)"),
        (DonskerVaradhan(), r"^critic_steps=3 is deprecated.*DonskerVaradhan\(steps=3\)"),
    ],
    ids=["hsic", "club", "HSIC()", "DonskerVaradhan()"],
)
@pytest.mark.parametrize("mi_weight", [1.0, 0.0])
def test_a_critic_parameter_with_another_penalty_is_an_error(
    biased_data, penalty, match, mi_weight
):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**BASE, penalty=penalty, critic_steps=3, mi_weight=mi_weight)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y, sensitive_features=group)
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize("estimator", [MIUnbiasedClassifier, MIUnbiasedRegressor])
def test_get_params_lists_the_deprecated_parameters_with_their_sentinel(estimator):
    params = estimator().get_params()
    assert {name: params[name] for name in NAMES} == dict.fromkeys(NAMES, "deprecated")
    assert params["penalty"] == "donsker_varadhan"


def test_a_grid_search_over_the_settings_of_a_penalty_object(biased_data):
    X, y, group = biased_data
    critic = DonskerVaradhan(warmup_steps=5)
    search = GridSearchCV(
        MIUnbiasedClassifier(**BASE, penalty=critic),
        {"penalty__steps": [1, 3], "penalty__hidden": [(8,), (16, 16)]},
        cv=KFold(2, shuffle=True, random_state=0),
    )
    search.fit(X, y, sensitive_features=group)
    assert sorted(search.cv_results_["param_penalty__steps"]) == [1, 1, 3, 3]
    best = search.best_estimator_
    assert best.critic_steps_ == search.best_params_["penalty__steps"]
    assert tuple(best.penalty.hidden) == search.best_params_["penalty__hidden"]
    assert best.net_.critic_.net[0][0].out_features == search.best_params_["penalty__hidden"][0]
    # the search set clones: the object passed in keeps its settings
    assert critic.get_params() == DonskerVaradhan(warmup_steps=5).get_params()
