"""``bias_reweighting``: weights under which the attribute is independent of the label."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from fairmine import MIUnbiasedClassifier
from fairmine._bias_weights import MAX_BIAS_WEIGHT, independence_weights


def _biased(n, agreement, seed):
    """Labels 0-2 and a 3-valued attribute equal to the label in ``agreement`` of the rows."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    c = np.where(rng.rand(n) < agreement, y, rng.randint(0, 3, n))
    return y, c


def _weighted_joint(y, c, w):
    joint = np.zeros((y.max() + 1, c.max() + 1))
    np.add.at(joint, (y, c), w)
    return joint / joint.sum()


def test_counted_weights_make_the_attribute_independent_of_the_label():
    y, c = _biased(3000, agreement=0.8, seed=0)
    w = independence_weights(y, c[:, None].astype(float))
    joint = _weighted_joint(y, c, w)
    independent = np.outer(joint.sum(axis=1), joint.sum(axis=0))
    np.testing.assert_allclose(joint, independent, atol=1e-6)
    # the label's marginal is kept
    np.testing.assert_allclose(joint.sum(axis=1), np.bincount(y) / len(y), atol=1e-6)
    assert w.dtype == np.float32 and w.mean() == pytest.approx(1.0)
    unweighted = _weighted_joint(y, c, np.ones(len(y)))
    assert np.trace(unweighted) > 0.8 and np.trace(joint) < 0.36


def test_a_continuous_attribute_gets_a_cross_fitted_classifier():
    rng = np.random.RandomState(1)
    y = rng.randint(0, 2, 2000)
    c = y + rng.normal(scale=0.5, size=2000)  # 2000 distinct values
    w = independence_weights(y, c[:, None])
    gap = abs(c[y == 1].mean() - c[y == 0].mean())
    weighted_gap = abs(
        np.average(c[y == 1], weights=w[y == 1]) - np.average(c[y == 0], weights=w[y == 0])
    )
    assert gap > 0.9 and weighted_gap < 0.3 * gap
    # rows whose attribute disagrees with their label weigh more
    disagree = (c > 0.5) != (y == 1)
    assert w[disagree].mean() > 3 * w[~disagree].mean()


def test_weights_are_capped():
    y = np.r_[np.zeros(1000, int), np.ones(1000, int)]
    c = np.r_[np.zeros(999), 1.0, np.ones(1000)][:, None]  # one (y=0, c=1) row in 1001
    raw_uncapped = 0.5 / (1 / 1001)
    assert raw_uncapped > MAX_BIAS_WEIGHT
    w = independence_weights(y, c)
    ratio = w[999] / w[0]  # the rare row against a y=0, c=0 row (raw ratio 0.5 / (999/999))
    assert ratio == pytest.approx(MAX_BIAS_WEIGHT / 0.5, rel=1e-5)
    assert independence_weights(y, c, max_weight=4.0)[999] / w[0] < ratio


def test_sample_weight_is_multiplied_and_keeps_its_mean():
    y, c = _biased(600, agreement=0.7, seed=2)
    base = np.random.RandomState(3).uniform(0, 2, len(y))
    base[:50] = 0.0
    w = independence_weights(y, c[:, None].astype(float), base)
    assert (w[:50] == 0).all()
    assert w.mean() == pytest.approx(base.mean(), rel=1e-5)
    joint = _weighted_joint(y, c, w)
    np.testing.assert_allclose(joint, np.outer(joint.sum(1), joint.sum(0)), atol=1e-6)


def test_too_few_rows_of_a_class_for_cross_fitting():
    y = np.r_[np.zeros(100, int), 1]
    c = np.random.RandomState(0).normal(size=(101, 1))
    with pytest.raises(ValueError, match="bias_reweighting needs at least 2 samples"):
        independence_weights(y, c)


def _fit(**params):
    y, c = _biased(300, agreement=0.8, seed=4)
    X = np.c_[y + np.random.RandomState(5).normal(scale=0.5, size=300), c]
    clf = MIUnbiasedClassifier(max_epochs=3, lr=1e-2, random_state=0, **params)
    return clf, X, y, c


def test_the_estimator_multiplies_the_weights_into_sample_weight():
    clf, X, y, c = _fit(bias_reweighting="auto")
    clf.fit(X, y, sensitive_features=c)
    manual, *_ = _fit()
    weights = independence_weights(y, np.eye(3, dtype=np.float32)[c])
    manual.fit(X, y, sensitive_features=c, sample_weight=weights)
    np.testing.assert_allclose(clf.predict_proba(X), manual.predict_proba(X), rtol=1e-5)
    plain, *_ = _fit()
    plain.fit(X, y, sensitive_features=c)
    assert not np.allclose(clf.predict_proba(X), plain.predict_proba(X), rtol=1e-3)


def test_bias_reweighting_is_off_by_default_and_validated():
    assert MIUnbiasedClassifier().bias_reweighting is None
    clf, X, y, c = _fit(bias_reweighting="yes")
    with pytest.raises(InvalidParameterError, match="bias_reweighting"):
        clf.fit(X, y, sensitive_features=c)


@pytest.mark.slow
def test_reweighting_removes_a_shortcut_that_disappears_at_test_time():
    rng = np.random.RandomState(6)
    n = 1500
    y = rng.randint(0, 2, n)
    shortcut = np.where(rng.rand(n) < 0.95, y, 1 - y)  # agrees with y on 95 % in training
    X = np.c_[y + rng.normal(scale=0.8, size=n), 3.0 * shortcut]
    y_test = rng.randint(0, 2, n)
    X_test = np.c_[y_test + rng.normal(scale=0.8, size=n), 3.0 * rng.randint(0, 2, n)]
    scores = {}
    for reweighting in (None, "auto"):
        clf = MIUnbiasedClassifier(
            mi_weight=0.0, bias_reweighting=reweighting, max_epochs=15, random_state=0
        )
        clf.fit(X, y, sensitive_features=shortcut)
        scores[reweighting] = clf.score(X_test, y_test)
    assert scores[None] < 0.65 and scores["auto"] > scores[None] + 0.1
