"""The fairness criteria: which rows and conditioning the MI penalty uses."""

import warnings

import numpy as np
import pytest
import torch

from fairmine import MIUnbiasedClassifier, estimate_mi
from fairmine.metrics import make_mi_scorer
from fairmine.mi import Criterion, DiscreteMarginal, DonskerVaradhan, MIAudit

# these tests check plumbing with fits of two epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

FAST = {"max_epochs": 2, "penalty": DonskerVaradhan(steps=2, warmup_steps=5), "random_state": 0}


def test_demographic_parity_is_the_default_and_unconditional(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)
    assert clf.criterion == "demographic_parity"
    assert clf.net_.critic_.n_groups == 0
    assert clf.net_.marginal_.log_probabilities.shape == (1, 1 + 1)


def test_equalized_odds_critic_reads_y_and_marginal_is_per_class(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(criterion="equalized_odds", **FAST)
    clf.fit(X, y, sensitive_features=group)
    assert clf.net_.critic_.n_groups == 2
    probabilities = clf.net_.marginal_.log_probabilities.exp().numpy()
    for label in (0, 1):
        share_of_group_1 = np.mean(group[y == label] == 1)
        np.testing.assert_allclose(probabilities[label, 1], share_of_group_1, rtol=1e-5)
    assert np.isfinite(clf.history_[:, "train_mi"]).all()


def test_equal_opportunity_ignores_the_attribute_of_negative_rows(biased_data):
    """Only the rows of the positive class enter the MI: changing the others' attribute
    leaves the model identical, whereas it changes the other criteria's models."""
    X, y, group = biased_data
    changed = group.copy()
    negative = np.flatnonzero(y == 0)
    changed[negative] = np.random.RandomState(1).randint(0, 2, len(negative))
    assert (changed != group).any()

    def proba(criterion, attribute):
        clf = MIUnbiasedClassifier(criterion=criterion, mi_weight=3.0, **FAST)
        return clf.fit(X, y, sensitive_features=attribute).predict_proba(X)

    np.testing.assert_array_equal(
        proba("equal_opportunity", group), proba("equal_opportunity", changed)
    )
    for criterion in ("demographic_parity", "equalized_odds"):
        assert not np.array_equal(proba(criterion, group), proba(criterion, changed))


def test_equal_opportunity_marginal_uses_positive_rows_only(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(criterion="equal_opportunity", **FAST)
    clf.fit(X, y, sensitive_features=group)
    marginal = clf.net_.marginal_
    assert isinstance(marginal, DiscreteMarginal)
    share = marginal.log_probabilities.exp()[0, 1].item()
    assert share == pytest.approx(np.mean(group[y == 1] == 1), rel=1e-5)


def test_pos_label_defaults_to_the_greater_class_and_accepts_strings(biased_data):
    X, y, group = biased_data
    labels = np.array(["bad", "good"])[y]
    default = MIUnbiasedClassifier(criterion="equal_opportunity", **FAST)
    default.fit(X, labels, sensitive_features=group)
    assert default._mi_criterion().positive == 1  # "good" > "bad"
    explicit = MIUnbiasedClassifier(criterion="equal_opportunity", pos_label="bad", **FAST)
    explicit.fit(X, labels, sensitive_features=group)
    assert explicit._mi_criterion().positive == 0


def test_pos_label_errors_name_the_argument(biased_data):
    X, y, group = biased_data
    with pytest.raises(ValueError, match="pos_label='maybe' is not a class of y"):
        MIUnbiasedClassifier(criterion="equal_opportunity", pos_label="maybe", **FAST).fit(
            X, y, sensitive_features=group
        )
    three = y + (X[:, 2] > 1)
    with pytest.raises(ValueError, match="3 classes needs pos_label"):
        MIUnbiasedClassifier(criterion="equal_opportunity", **FAST).fit(
            X, three, sensitive_features=group
        )
    clf = MIUnbiasedClassifier(criterion="equal_opportunity", pos_label=2, **FAST)
    assert clf.fit(X, three, sensitive_features=group).predict_proba(X).shape == (len(y), 3)


def test_unknown_criterion_is_rejected(biased_data):
    X, y, group = biased_data
    with pytest.raises(ValueError, match="'criterion' parameter"):
        MIUnbiasedClassifier(criterion="fairness", **FAST).fit(X, y, sensitive_features=group)


def test_equal_opportunity_needs_two_positive_rows(biased_data):
    X, y, group = biased_data
    few = np.zeros_like(y)
    few[0] = 1
    with pytest.raises(ValueError, match="fewer than two"):
        MIUnbiasedClassifier(criterion="equal_opportunity", **FAST).fit(
            X, few, sensitive_features=group
        )


@pytest.mark.parametrize("sampling", ["bank", "fresh"])
@pytest.mark.parametrize("criterion", ["equalized_odds", "equal_opportunity"])
def test_conditional_criteria_train_with_a_continuous_attribute(biased_data, criterion, sampling):
    X, y, group = biased_data
    continuous = group + np.random.RandomState(0).normal(scale=0.3, size=len(y))
    critic = DonskerVaradhan(steps=2, warmup_steps=5, sampling=sampling)
    clf = MIUnbiasedClassifier(criterion=criterion, **{**FAST, "max_epochs": 15, "penalty": critic})
    clf.fit(X, y, sensitive_features=continuous)
    assert np.isfinite(clf.history_[:, "train_mi"]).all()
    assert clf.score(X, y) > 0.6


def test_criterion_select_on_tensors_and_arrays():
    z, c, y = torch.arange(8.0).view(4, 2), torch.ones(4, 1), torch.tensor([0, 1, 1, 0])
    assert Criterion("equal_opportunity", positive=1).select(z, c, y)[0].tolist() == [
        [2.0, 3.0],
        [4.0, 5.0],
    ]
    assert Criterion("equalized_odds").select(z, c, y)[2] is y
    assert Criterion().select(z.numpy(), c.numpy(), y.numpy())[2] is None
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert Criterion("equal_opportunity", positive=1).select(z, c, y, weight)[3].tolist() == [
        2.0,
        3.0,
    ]
    assert Criterion().select(z, c, y)[3] is None
    with pytest.raises(ValueError, match="positive class"):
        Criterion("equal_opportunity")


def test_mi_audit_records_fresh_critic_values_without_changing_the_model(biased_data):
    X, y, group = biased_data
    params = {**FAST, "max_epochs": 3}
    plain = MIUnbiasedClassifier(**params).fit(X, y, sensitive_features=group)
    audited = MIUnbiasedClassifier(callbacks=[MIAudit(every=2, max_steps=100)], **params)
    audited.fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(plain.predict_proba(X), audited.predict_proba(X))
    rows = audited.history_
    assert [("audit_mi" in row) for row in rows] == [False, True, True]  # every 2nd and last
    assert all(np.isfinite(row["audit_mi_std"]) and row["audit_mi_std"] > 0 for row in rows[1:])


@pytest.mark.parametrize("criterion", ["equalized_odds", "equal_opportunity"])
def test_the_mi_scorer_measures_the_rows_and_conditioning_of_the_criterion(biased_data, criterion):
    """String labels: the scorer maps them to the estimator's classes, as fit does."""
    X, y, group = biased_data
    labels = np.where(y == 1, "good", "bad")
    clf = MIUnbiasedClassifier(criterion=criterion, max_epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, labels, sensitive_features=group)
    score = make_mi_scorer(max_steps=50, random_state=0)(clf, X, labels, sensitive_features=group)
    z = clf.transform(X)
    if criterion == "equalized_odds":
        expected = estimate_mi(z, group, given=y, max_steps=50, random_state=0)
    else:  # pos_label None: the greater class, "good"
        keep = labels == "good"
        expected = estimate_mi(z[keep], group[keep], max_steps=50, random_state=0)
    assert score == pytest.approx(-expected)
