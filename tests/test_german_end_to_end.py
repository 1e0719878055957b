"""End to end on the real German credit data: the MI penalty must remove age information.

Fixed seeds; each assertion has a margin that an implementation whose penalty
does nothing (or pushes the wrong way) fails: over the same four splits ERM
(mi_weight=0) keeps measurably more information about age < 25 in z and a
larger equal-opportunity gap.
"""

import warnings

import numpy as np
import pytest
from fairlearn.metrics import equal_opportunity_difference
from sklearn.model_selection import ShuffleSplit

from fairmine import MIUnbiasedClassifier, estimate_mi
from fairmine.datasets import load_german
from fairmine.exceptions import DegenerateModelWarning
from fairmine.experiments import german_preprocessor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def german_runs():
    german = load_german()
    X, y = german.data, german.target.to_numpy()
    young = (X["age"] < 25).to_numpy()
    results = {0.0: [], 3.0: []}
    for run, (train, test) in enumerate(ShuffleSplit(4, test_size=0.3, random_state=0).split(X)):
        prep = german_preprocessor().fit(X.iloc[train])
        X_train, X_test = prep.transform(X.iloc[train]), prep.transform(X.iloc[test])
        X_all = prep.transform(X)
        for mi_weight, rows in results.items():
            clf = MIUnbiasedClassifier(mi_weight=mi_weight, random_state=run)
            clf.fit(X_train, y[train], sensitive_features=young[train])
            y_pred = clf.predict(X_test)
            rows.append(
                {
                    "accuracy": np.mean(y_pred == y[test]),
                    "eo": equal_opportunity_difference(
                        y[test], y_pred, sensitive_features=young[test]
                    ),
                    # all 1000 applicants: the honest three-way split needs the rows
                    "mi": estimate_mi(clf.transform(X_all), young),
                }
            )
    return {w: {k: np.array([r[k] for r in rows]) for k in rows[0]} for w, rows in results.items()}


def test_penalty_lowers_post_hoc_mutual_information_with_age(german_runs):
    erm, fair = german_runs[0.0]["mi"], german_runs[3.0]["mi"]
    print("post-hoc MI  ERM", erm.round(3), " fairmine", fair.round(3))
    assert fair.mean() < erm.mean() - 0.02
    assert (fair < erm).sum() >= 3


def test_penalty_lowers_equal_opportunity_gap(german_runs):
    erm, fair = german_runs[0.0]["eo"], german_runs[3.0]["eo"]
    print("EO  ERM", erm.round(3), " fairmine", fair.round(3))
    assert fair.mean() < erm.mean() - 0.03


def test_penalty_keeps_accuracy_above_the_constant_predictor(german_runs):
    accuracy = german_runs[3.0]["accuracy"]
    print("accuracy fairmine", accuracy.round(3))
    assert accuracy.mean() >= 0.71


def test_a_near_constant_model_on_german_credit_warns():
    """At lambda 10 equal opportunity leaves a model that answers "good" for about 96 % of the
    700 training applicants, with a training accuracy within the rule's margin of the
    majority's: it must warn. Which split collapses depends on the machine's float rounding
    (the criteria benchmark saw 8 or 9 of 10 splits warn), so the first of three that does is
    checked."""
    german = load_german()
    X, y = german.data, german.target.to_numpy()
    young = (X["age"] < 25).to_numpy()
    splits = list(ShuffleSplit(10, test_size=0.3, random_state=0).split(X))
    for run in (1, 2, 3):
        train, _ = splits[run]
        X_train = german_preprocessor().fit_transform(X.iloc[train])
        clf = MIUnbiasedClassifier(mi_weight=10.0, criterion="equal_opportunity", random_state=run)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DegenerateModelWarning)
            clf.fit(X_train, y[train], sensitive_features=young[train])
        messages = [str(w.message) for w in caught if w.category is DegenerateModelWarning]
        if messages:
            assert "no better than a constant" in messages[0]
            assert np.mean(clf.predict(X_train) == 1) > 0.95
            return
    pytest.fail("none of three splits collapsed at lambda 10 (the benchmark's 8-9 of 10 did)")
