"""clone, pickle, joblib and skorch's save_params/load_params round trips."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from fairmine import MIUnbiasedClassifier
from fairmine.mi import DonskerVaradhan

# these tests check plumbing with fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

FAST = {"max_epochs": 3, "penalty": DonskerVaradhan(steps=2, warmup_steps=5), "random_state": 0}


@pytest.fixture
def fitted(biased_data):
    X, y, group = biased_data
    return MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group), X


def test_clone_copies_parameters_not_the_fit(fitted):
    clf, _ = fitted
    copy = clone(clf)
    params, copied = clf.get_params(), copy.get_params()
    # the penalty object is cloned too: equal settings (penalty__*), another object
    assert copied.pop("penalty") is not params.pop("penalty")
    assert copied == params
    assert not hasattr(copy, "net_")


def test_clone_then_fit_reproduces_the_model(fitted, biased_data):
    clf, X = fitted
    _, y, group = biased_data
    refit = clone(clf).fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(refit.predict_proba(X), clf.predict_proba(X))


def test_pickle_round_trip(fitted):
    clf, X = fitted
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.transform(X), clf.transform(X))


def test_joblib_round_trip(fitted, tmp_path):
    clf, X = fitted
    joblib.dump(clf, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_skorch_save_and_load_params(fitted, biased_data, tmp_path, monkeypatch):
    clf, X = fitted
    _, y, group = biased_data
    clf.net_.save_params(
        f_params=tmp_path / "model.pt",
        f_critic=tmp_path / "critic.pt",
        f_history=tmp_path / "history.json",
    )
    # a differently trained model of the same shape takes over the saved weights
    other = MIUnbiasedClassifier(**{**FAST, "random_state": 1}).fit(X, y, sensitive_features=group)
    assert not np.allclose(other.predict_proba(X), clf.predict_proba(X))
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: loads.append(kw) or real_load(*a, **kw))
    other.net_.load_params(f_params=tmp_path / "model.pt", f_critic=tmp_path / "critic.pt")
    np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))
    for name, param in clf.net_.critic_.state_dict().items():
        assert torch.equal(other.net_.critic_.state_dict()[name], param)
    assert loads and all(kw.get("weights_only") is True for kw in loads)
