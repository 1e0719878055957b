"""The dependence penalties behind ``penalty=``: ground truths, criteria, weights, end to end.

Each penalty is driven through the interface the training step uses
(``initialize`` on the training rows, ``update`` on detached rows, ``penalty``
on held-out rows), on a binary attribute ``c`` and ``z = (s * c + noise,
noise)``: at ``s = 0`` the two are independent, and the dependence grows with
``s``. The true MI of that pair is computed by quadrature for the bounds.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit

from fairmine import MIUnbiasedClassifier, MIUnbiasedRegressor, estimate_mi
from fairmine.datasets import load_german
from fairmine.experiments import german_preprocessor
from fairmine.mi import (
    CLUB,
    HSIC,
    PENALTIES,
    Criterion,
    DependencePenalty,
    DonskerVaradhan,
    EpochRows,
    PenaltySetup,
    SlicedDependence,
    make_penalty,
)
from fairmine.mi._kernels import delta_kernel, gaussian_kernel, weighted_hsic

STRENGTHS = (0.0, 0.5, 1.0, 2.0)
#: every penalty, with the settings these small problems train quickly with
PENALTY_OBJECTS = {
    "donsker_varadhan": DonskerVaradhan(steps=1, warmup_steps=0, critic_type="concat"),
    "classifier_critic": DonskerVaradhan(steps=1, warmup_steps=0, critic_type="classifier"),
    "club": CLUB(),
    "sliced": SlicedDependence(),
    "hsic": HSIC(),
    "hsic_normalized": HSIC(normalize=True),
}
TRAINED = {"donsker_varadhan", "classifier_critic", "club"}


def _pairs(n: int, strength: float, seed: int, given: np.ndarray | None = None):
    """``c`` in {0, 1} and ``z`` of 3 columns whose first is ``strength * c`` plus noise."""
    rng = np.random.RandomState(seed)
    c = rng.randint(0, 2, n)
    z = rng.normal(size=(n, 3))
    z[:, 0] += strength * c
    return torch.tensor(z, dtype=torch.float32), torch.tensor(c[:, None], dtype=torch.float32)


def _densities(strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """p(z | c = 0), p(z | c = 1) of the informative column on a grid, their mixture, the step."""
    grid = np.linspace(-8, 8 + strength, 20001)
    p0 = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
    p1 = np.exp(-0.5 * (grid - strength) ** 2) / math.sqrt(2 * math.pi)
    return p0, p1, 0.5 * (p0 + p1), grid[1] - grid[0]


def _true_mi(strength: float) -> float:
    """I(Z; C) in nats for c ~ Bernoulli(1/2), z = strength * c + N(0, 1), by quadrature."""
    p0, p1, mixture, step = _densities(strength)
    return sum(0.5 * np.sum(p * np.log(p / mixture)) * step for p in (p0, p1))


def _true_club(strength: float) -> float:
    """CLUB with the true posterior q = p(c | z): E_p(z,c) log p(c|z) - E_p(z)p(c) log p(c|z)."""
    p0, p1, mixture, step = _densities(strength)
    log_post = [np.log(0.5 * p / mixture) for p in (p0, p1)]
    joint = sum(0.5 * np.sum(p * lp) * step for p, lp in zip((p0, p1), log_post, strict=True))
    marginal = sum(0.5 * np.sum(mixture * lp) * step for lp in log_post)
    return joint - marginal


def _fitted(
    template: DependencePenalty,
    z: torch.Tensor,
    c: torch.Tensor,
    given: torch.Tensor | None = None,
    n_groups: int = 0,
    updates: int = 600,
    weight: torch.Tensor | None = None,
) -> DependencePenalty:
    """A clone built on the rows and, when it trains, trained on minibatches of them."""
    penalty = clone(template)
    setup = PenaltySetup(
        c.numpy(),
        None if given is None else given.numpy(),
        n_groups,
        None if weight is None else weight.numpy(),
        z.shape[1],
        256,
        "cpu",
    )
    penalty.initialize(setup)
    penalty.initialize_optimizers()
    penalty.begin_fit(lambda: 0.0, batch_size=256)
    rng = torch.Generator().manual_seed(0)

    def batches():
        while True:
            rows = torch.randint(len(z), (256,), generator=rng)
            yield (
                z[rows],
                c[rows],
                None if given is None else given[rows],
                None if weight is None else weight[rows],
            )

    penalty.begin_epoch(EpochRows(one_pass=batches, cycle=batches))
    stream = batches()
    for _ in range(updates if type(template).__name__ in ("DonskerVaradhan", "CLUB") else 0):
        penalty.update(next(stream))
    return penalty


def _value(penalty: DependencePenalty, rows) -> float:
    with torch.no_grad():
        return float(penalty.penalty(rows, training=False)[0])


@pytest.fixture(scope="module")
def values():
    """Each penalty's value on held-out rows at each strength (trained on other rows)."""
    torch.manual_seed(0)
    out = {}
    for name, template in PENALTY_OBJECTS.items():
        for strength in STRENGTHS:
            z, c = _pairs(2000, strength, seed=1)
            penalty = _fitted(template, z, c)
            z_test, c_test = _pairs(1000, strength, seed=2)
            out[name, strength] = _value(penalty, (z_test, c_test, None, None))
    return out


@pytest.mark.parametrize("name", list(PENALTY_OBJECTS))
def test_near_zero_under_independence_and_increasing_with_dependence(values, name):
    series = [values[name, s] for s in STRENGTHS]
    strongest = series[-1]
    assert strongest > 0
    assert abs(series[0]) < 0.1 * strongest, series
    assert all(a < b for a, b in itertools.pairwise(series)), series


@pytest.mark.parametrize("name", ["donsker_varadhan", "classifier_critic", "club"])
def test_the_bounds_are_near_the_true_mutual_information(values, name):
    for strength in STRENGTHS[1:]:
        truth = _true_mi(strength)
        estimate = values[name, strength]
        if name == "club":  # an upper bound: its value with the true posterior, above the MI
            club = _true_club(strength)
            assert club > truth
            assert 0.8 * club - 0.02 < estimate < 1.2 * club + 0.02, (strength, estimate, club)
        else:  # lower bounds
            assert 0.6 * truth - 0.02 < estimate < 1.1 * truth + 0.02, (strength, estimate, truth)


def test_true_mi_of_the_test_pairs():
    """The quadrature: 0 at strength 0, and ln 2 in the limit of separated classes."""
    assert _true_mi(0.0) == pytest.approx(0.0, abs=1e-9)
    assert _true_club(0.0) == pytest.approx(0.0, abs=1e-9)
    assert _true_mi(12.0) == pytest.approx(math.log(2), abs=1e-3)


@pytest.mark.parametrize("name", list(PENALTY_OBJECTS))
def test_the_gradient_reaches_z(name):
    z, c = _pairs(512, 1.0, seed=3)
    penalty = _fitted(PENALTY_OBJECTS[name], z, c, updates=50)
    z_test, c_test = _pairs(256, 1.0, seed=4)
    z_test.requires_grad_(True)
    _, objective = penalty.penalty((z_test, c_test, None, None))
    objective.backward()
    assert torch.isfinite(z_test.grad).all()
    # the dependence sits in column 0: that is where the gradient pushes
    column_norms = z_test.grad.norm(dim=0)
    assert column_norms[0] > 0
    assert column_norms[0] > column_norms[1:].max()


def _confounded(n: int, seed: int):
    """z and c both follow y (so dependent), but independent within each class of y."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    c = np.where(rng.rand(n) < 0.9, y, 1 - y)
    z = rng.normal(size=(n, 3))
    z[:, 0] += 2.0 * y
    return (
        torch.tensor(z, dtype=torch.float32),
        torch.tensor(c[:, None], dtype=torch.float32),
        torch.tensor(y),
    )


@pytest.mark.parametrize("name", list(PENALTY_OBJECTS))
def test_equalized_odds_measures_the_dependence_within_each_class(name):
    criterion = Criterion("equalized_odds")
    z, c, y = _confounded(2000, seed=5)
    z_test, c_test, y_test = _confounded(1000, seed=6)
    unconditional = _fitted(PENALTY_OBJECTS[name], z, c)
    conditional = _fitted(PENALTY_OBJECTS[name], z, c, given=y, n_groups=criterion.n_groups)
    marginal = _value(unconditional, (z_test, c_test, None, None))
    within = _value(conditional, criterion.select(z_test, c_test, y_test))
    assert marginal > 0
    assert abs(within) < 0.2 * marginal, (within, marginal)


@pytest.mark.parametrize("name", list(PENALTY_OBJECTS))
def test_equal_opportunity_reads_the_positive_rows_only(name):
    """Dependence on the negative rows only: invisible to equal opportunity.

    One-sided: a lower bound below 0 on held-out rows is a critic that found nothing.
    """
    z, c = _pairs(2000, 3.0, seed=7)
    y = torch.tensor(np.random.RandomState(8).randint(0, 2, 2000))
    z[y == 1, 0] = torch.randn(int((y == 1).sum()), generator=torch.Generator().manual_seed(9))
    criterion = Criterion("equal_opportunity", positive=1)
    z_test, c_test, y_test = z[1000:], c[1000:], y[1000:]
    everything = _value(
        _fitted(PENALTY_OBJECTS[name], z[:1000], c[:1000]), (z_test, c_test, None, None)
    )
    rows = criterion.select(z[:1000], c[:1000], y[:1000])
    positive = _fitted(PENALTY_OBJECTS[name], rows[0], rows[1])
    assert everything > 0
    assert _value(positive, criterion.select(z_test, c_test, y_test)) < 0.25 * everything


@pytest.mark.parametrize("name", list(PENALTY_OBJECTS))
def test_rows_of_weight_zero_do_not_count(name):
    """Weights that switch the dependent half of the rows off, in training and in the penalty."""
    dependent, c_dep = _pairs(1000, 3.0, seed=10)
    independent, c_ind = _pairs(1000, 0.0, seed=11)
    z, c = torch.cat([dependent, independent]), torch.cat([c_dep, c_ind])
    off = torch.cat([torch.zeros(1000), torch.ones(1000)])
    weighted = _value(_fitted(PENALTY_OBJECTS[name], z, c, weight=off), (z, c, None, off))
    unweighted = _value(_fitted(PENALTY_OBJECTS[name], z, c), (z, c, None, None))
    assert unweighted > 0
    assert abs(weighted) < 0.2 * unweighted, (weighted, unweighted)


def test_the_normalized_hsic_follows_hsic_and_is_zero_at_a_constant_z():
    """Its gradient is HSIC's times a positive number: its own denominator earns nothing."""
    z, c = _pairs(256, 1.0, seed=12)
    plain, normalized = _fitted(HSIC(), z, c), _fitted(HSIC(normalize=True), z, c)
    gradients = []
    for penalty in (plain, normalized):
        rows = z.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(penalty.penalty((rows, c, None, None))[1], rows)
        gradients.append(gradient.flatten())
    cosine = torch.nn.functional.cosine_similarity(*gradients, dim=0)
    assert float(cosine) == pytest.approx(1.0, abs=1e-4)
    constant = torch.ones(256, 3)
    assert _value(normalized, (constant, c, None, None)) == 0.0


@pytest.mark.parametrize("n", [2, 3, 64, 129])
def test_the_gaussian_kernel_takes_the_median_of_the_off_diagonal_distances(n):
    """The median heuristic's bandwidth, ties and duplicate rows (dead ReLU units) included."""
    torch.manual_seed(n)
    x = torch.relu(torch.randn(n, 5))
    x[: n // 2, :3] = 0.0  # equal rows and equal distances
    squares = x.square().sum(1)
    distances = (squares.unsqueeze(1) + squares.unsqueeze(0) - 2 * x @ x.T).clamp_min(0)
    off_diagonal = distances[~torch.eye(n, dtype=torch.bool)]
    expected = torch.exp(-distances / (2 * off_diagonal.median()))
    assert torch.equal(gaussian_kernel(x), expected)


def test_weighted_hsic_is_the_trace_of_the_centred_kernels_under_equal_weights():
    torch.manual_seed(0)
    x, c = torch.randn(40, 3), (torch.rand(40, 1) < 0.3).float()
    k, m = gaussian_kernel(x), delta_kernel(c)
    centre = torch.eye(40) - 1 / 40
    expected = torch.trace(k @ centre @ m @ centre) / 40**2
    value = weighted_hsic(k, m, torch.full((1, 40), 1 / 40))
    assert value.shape == (1,)
    assert float(value[0]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("name", ["hsic", "hsic_normalized", "sliced"])
def test_the_closed_form_penalties_do_not_change_with_the_scale_of_z(name):
    """Their gradient is orthogonal to z: shrinking z is not a way to lower them."""
    z, c = _pairs(256, 1.0, seed=13)
    penalty = _fitted(PENALTY_OBJECTS[name], z, c)
    torch.manual_seed(0)
    value = _value(penalty, (z, c, None, None))
    torch.manual_seed(0)
    assert _value(penalty, (0.01 * z, c, None, None)) == pytest.approx(value, rel=1e-3)
    rows = z.clone().requires_grad_(True)
    torch.manual_seed(0)
    (gradient,) = torch.autograd.grad(penalty.penalty((rows, c, None, None))[1], rows)
    assert float((gradient * z).sum()) == pytest.approx(
        0.0, abs=1e-3 * float(gradient.norm() * z.norm())
    )


def test_make_penalty_names_and_objects():
    assert set(PENALTIES) == {"donsker_varadhan", "classifier_critic", "club", "sliced", "hsic"}
    for name, cls in PENALTIES.items():
        critic_type = {"classifier_critic": {"critic_type": "classifier"}}.get(name, {})
        assert make_penalty(name).get_params() == cls(**critic_type).get_params(), name
    assert make_penalty("classifier_critic").critic_type == "classifier"
    own = HSIC(normalize=True)
    assert make_penalty(own) is own
    with pytest.raises(ValueError, match="penalty must be one of"):
        make_penalty("mine")


#: the estimator parameters that configured the Donsker-Varadhan critic, by the setting of
#: DonskerVaradhan that replaced each
REMOVED_CRITIC_PARAMETERS = {
    "critic_steps": "steps",
    "critic_lr": "lr",
    "critic_optimizer": "optimizer",
    "critic_type": "critic_type",
    "critic_hidden": "hidden",
    "critic_warmup_steps": "warmup_steps",
    "critic_sampling": "sampling",
    "critic_bank_size": "bank_size",
    "critic_batch_size": "batch_size",
    "bias_correction": "bias_correction",
    "bias_correction_rate": "bias_correction_rate",
}


@pytest.mark.parametrize("estimator", [MIUnbiasedClassifier, MIUnbiasedRegressor])
def test_the_critic_settings_live_on_the_penalty_only(estimator):
    assert set(estimator().get_params()).isdisjoint(REMOVED_CRITIC_PARAMETERS)
    assert set(REMOVED_CRITIC_PARAMETERS.values()) == set(DonskerVaradhan().get_params())
    with pytest.raises(TypeError, match="critic_steps"):
        estimator(critic_steps=3)


#: fits of a few epochs, which DegenerateModelWarning rightly flags
FEW_EPOCHS = {"max_epochs": 2, "lr": 1e-2, "random_state": 0}


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")
@pytest.mark.parametrize("penalty", ["donsker_varadhan", "classifier_critic"])
def test_the_names_are_the_penalty_objects_with_their_defaults(biased_data, penalty):
    X, y, group = biased_data
    by_name = MIUnbiasedClassifier(**FEW_EPOCHS, penalty=penalty)
    by_name.fit(X, y, sensitive_features=group)
    critic_type = "classifier" if penalty == "classifier_critic" else "concat"
    by_object = MIUnbiasedClassifier(**FEW_EPOCHS, penalty=DonskerVaradhan(critic_type=critic_type))
    by_object.fit(X, y, sensitive_features=group)
    np.testing.assert_array_equal(by_name.predict_proba(X), by_object.predict_proba(X))
    assert (by_name.critic_steps_, by_name.critic_bank_size_) == (
        by_object.critic_steps_,
        by_object.critic_bank_size_,
    )


def test_penalty_settings_are_searchable_with_nested_names(biased_data):
    X, y, group = biased_data
    search = GridSearchCV(
        MIUnbiasedClassifier(penalty=SlicedDependence(), max_epochs=2, random_state=0),
        {"penalty__n_slices": [2, 4]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, sensitive_features=group)
    assert search.best_estimator_.penalty.n_slices in (2, 4)
    assert MIUnbiasedClassifier(penalty=HSIC()).get_params()["penalty__normalize"] is False


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")
def test_a_grid_search_over_the_settings_of_a_penalty_object(biased_data):
    X, y, group = biased_data
    critic = DonskerVaradhan(warmup_steps=5)
    search = GridSearchCV(
        MIUnbiasedClassifier(**FEW_EPOCHS, penalty=critic),
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


def test_a_bad_penalty_setting_is_an_error_naming_it(biased_data):
    X, y, group = biased_data
    with pytest.raises(ValueError, match="'n_slices' parameter of SlicedDependence"):
        MIUnbiasedClassifier(penalty=SlicedDependence(n_slices=0), max_epochs=1).fit(
            X, y, sensitive_features=group
        )
    with pytest.raises(ValueError, match="'penalty' parameter"):
        MIUnbiasedClassifier(penalty="mine", max_epochs=1).fit(X, y, sensitive_features=group)


@pytest.mark.parametrize("name", list(PENALTIES))
def test_each_penalty_trains_under_each_criterion_with_weights(biased_data, name):
    X, y, group = biased_data
    weight = np.random.RandomState(0).uniform(0, 2, len(y))
    for criterion in ("demographic_parity", "equalized_odds", "equal_opportunity"):
        clf = MIUnbiasedClassifier(penalty=name, criterion=criterion, max_epochs=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y, sensitive_features=group, sample_weight=weight)
        assert np.isfinite(clf.history_[:, "train_mi"]).all()
        assert clf.net_.penalty_.get_params() == make_penalty(name).get_params() or name in (
            "donsker_varadhan",
            "classifier_critic",
        )


def test_a_continuous_attribute_gets_a_gaussian_club_and_kernel(biased_data):
    X, y, _ = biased_data
    colour = X[:, 1].astype(np.float64)
    club = MIUnbiasedClassifier(penalty="club", max_epochs=2, random_state=0)
    hsic = MIUnbiasedClassifier(penalty="hsic", max_epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        club.fit(X, y, sensitive_features=colour)
        hsic.fit(X, y, sensitive_features=colour)
    assert type(club.net_.critic_).__name__ == "GaussianConditional"
    assert hsic.net_.penalty_.kernel_ == "gaussian"
    assert np.isfinite(club.history_[:, "train_mi"]).all()


@pytest.mark.slow
def test_each_penalty_removes_the_attribute_from_held_out_german_z():
    """A short fit with each penalty leaves less of the attribute in held-out z than ERM.

    The attribute is "no checking account", which predicts credit risk, so ERM's z carries
    much of it (about .25 nats in the held-out rows, where age < 25 leaves a few hundredths,
    within the audit's noise on 300 rows).
    """
    german = load_german()
    X, y = german.data, german.target.to_numpy()
    attribute = (X["checking_account"] == "no checking account").to_numpy()
    train, test = next(ShuffleSplit(1, test_size=0.3, random_state=0).split(X))
    prep = german_preprocessor().fit(X.iloc[train])
    X_train, X_test = prep.transform(X.iloc[train]), prep.transform(X.iloc[test])

    def held_out_mi(penalty: str, mi_weight: float) -> float:
        clf = MIUnbiasedClassifier(
            penalty=penalty, mi_weight=mi_weight, max_epochs=10, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X_train, y[train], sensitive_features=attribute[train])
        z = clf.transform(X_test)
        return estimate_mi(z, attribute[test], max_steps=1000, random_state=0)

    erm = held_out_mi("donsker_varadhan", 0.0)
    assert erm > 0.15
    # (weight, the share of ERM's MI it must stay under): CLUB's q, one update a step behind
    # the encoder, removes least here (.16 nats left at weight 5, .17 at 10, .19 with 3 updates)
    limits = {
        "donsker_varadhan": (3.0, 0.5),
        "classifier_critic": (3.0, 0.5),
        "club": (5.0, 0.8),
        "sliced": (3.0, 0.5),
        "hsic": (10.0, 0.5),
    }
    for penalty, (mi_weight, share) in limits.items():
        assert held_out_mi(penalty, mi_weight) < share * erm, penalty
