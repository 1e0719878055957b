"""The classifier critic: T(z, c) = log q(c | z) - log p(c), whose DV marginal term is exactly 0."""

import math

import numpy as np
import pytest
import torch

from fairmine import MIUnbiasedClassifier
from fairmine.mi import (
    ClassifierCritic,
    DiscreteMarginal,
    DonskerVaradhan,
    ShuffledMarginal,
    StatisticsNetwork,
    critic_step,
    donsker_varadhan,
    make_critic,
    make_marginal,
    penalty,
)
from fairmine.mi._critic import critic_learning_rate, make_critic_optimizer

FAST = {"max_epochs": 2, "penalty": DonskerVaradhan(steps=2, warmup_steps=2), "random_state": 0}


def _fast(critic_type):
    """FAST with a critic of ``critic_type``."""
    return {**FAST, "penalty": DonskerVaradhan(steps=2, warmup_steps=2, critic_type=critic_type)}


def _binary_problem(n=200, seed=0):
    rng = np.random.RandomState(seed)
    c = (rng.uniform(size=(n, 1)) < 0.3).astype(np.float32)
    z = torch.as_tensor(rng.normal(size=(n, 4)) + 2 * c, dtype=torch.float32)
    return z, torch.as_tensor(c), make_marginal(c)


def test_the_marginal_term_is_zero_and_the_bound_is_entropy_minus_cross_entropy():
    torch.manual_seed(0)
    z, c, marginal = _binary_problem()
    critic = make_critic("classifier", marginal, 4, 1, (8,))
    t_joint, log_marginal = marginal.terms(critic, z, c)
    assert torch.equal(log_marginal, torch.zeros(len(z)))
    # the same marginal term, written out: log mean_i sum_k p(c_k) exp T(z_i, c_k)
    log_q = torch.log_softmax(critic(z), dim=1)
    table = log_q - marginal.log_probabilities[0]
    written_out = torch.logsumexp(table + marginal.log_probabilities[0], dim=1)
    assert torch.allclose(written_out, torch.zeros(len(z)), atol=1e-6)
    which = c.squeeze(1).long()
    frequencies = torch.exp(marginal.log_probabilities[0])
    entropy = -(frequencies * torch.log(frequencies)).sum()
    empirical_entropy = -torch.log(frequencies[which]).mean()  # of the rows' own c
    cross_entropy = torch.nn.functional.cross_entropy(critic(z), which)
    bound = donsker_varadhan(t_joint, log_marginal)
    assert bound.item() == pytest.approx((empirical_entropy - cross_entropy).item(), abs=1e-5)
    assert empirical_entropy.item() == pytest.approx(entropy.item(), abs=1e-6)


def test_an_untrained_critic_starts_at_the_attribute_frequencies():
    torch.manual_seed(0)
    _, _, marginal = _binary_problem()
    critic = make_critic("classifier", marginal, 4, 1, (8,))
    assert torch.allclose(critic.net[-1].bias, marginal.log_probabilities[0])


def test_conditional_critic_reads_the_group_and_needs_it():
    rng = np.random.RandomState(1)
    c = rng.randint(0, 3, size=(90, 1)).astype(np.float32)
    given = rng.randint(0, 2, size=90)
    marginal = make_marginal(c, given)
    critic = make_critic("classifier", marginal, 4, 1, (8,), n_groups=2)
    z = torch.randn(90, 4)
    t_joint, log_marginal = marginal.terms(critic, z, torch.as_tensor(c), torch.as_tensor(given))
    assert t_joint.shape == (90,) and torch.equal(log_marginal, torch.zeros(90))
    with pytest.raises(ValueError, match="conditional"):
        critic(z)


def test_critic_updates_raise_the_bound_and_keep_no_moving_average():
    torch.manual_seed(0)
    z, c, marginal = _binary_problem()
    critic = make_critic("classifier", marginal, 4, 1, (16,))
    optimizer = make_critic_optimizer(torch.optim.Adam, critic, 1e-2)
    before, _ = penalty(critic, marginal, z, c)
    for _ in range(100):
        log_ema = critic_step(critic, optimizer, marginal, z, c, ema_rate=0.01)
        assert log_ema is None
    after, _ = penalty(critic, marginal, z, c)
    assert after.item() > before.item() + 0.1
    assert after.item() > 0.2  # z = noise + 2 c reveals much of the 0.61 nats of c


def test_weighted_rows_weigh_the_bound():
    torch.manual_seed(0)
    z, c, marginal = _binary_problem(n=6)
    critic = make_critic("classifier", marginal, 4, 1, (8,))
    weight = torch.tensor([1.0, 0.0, 2.0, 1.0, 0.0, 1.0])
    bound, _ = penalty(critic, marginal, z, c, weight=weight)
    t_joint, _ = marginal.terms(critic, z, c)
    assert bound.item() == pytest.approx(((t_joint * weight).sum() / weight.sum()).item(), 1e-5)


def test_make_critic_chooses_by_the_marginal_term():
    _, _, discrete = _binary_problem()
    assert isinstance(discrete, DiscreteMarginal)
    assert isinstance(make_critic("auto", discrete, 4, 1, (8,)), ClassifierCritic)
    assert isinstance(make_critic("concat", discrete, 4, 1, (8,)), StatisticsNetwork)
    shuffled = ShuffledMarginal()
    assert isinstance(make_critic("auto", shuffled, 4, 1, (8,)), StatisticsNetwork)
    with pytest.raises(ValueError, match="critic_type='classifier' needs an attribute"):
        make_critic("classifier", shuffled, 4, 1, (8,))
    with pytest.raises(ValueError, match="critic_type must be one of"):
        make_critic("gan", discrete, 4, 1, (8,))


def test_auto_learning_rate_depends_on_the_network():
    _, _, marginal = _binary_problem()
    classifier = make_critic("classifier", marginal, 4, 1, (8,))
    concat = make_critic("concat", marginal, 4, 1, (8,))
    assert critic_learning_rate("auto", classifier) == pytest.approx(3e-3)
    assert critic_learning_rate("auto", concat) == pytest.approx(1e-3)
    assert critic_learning_rate(5e-4, classifier) == pytest.approx(5e-4)


def test_shared_values_order_the_frequencies_and_must_cover_c():
    values = np.array([[0.0], [1.0], [2.0]])
    marginal = make_marginal(np.array([[2.0], [2.0], [0.0], [2.0]]), values=values)
    assert torch.equal(marginal.values, torch.as_tensor(values, dtype=torch.float32))
    assert torch.allclose(torch.exp(marginal.log_probabilities[0]), torch.tensor([0.25, 0, 0.75]))
    with pytest.raises(ValueError, match="values must hold every distinct row of c"):
        make_marginal(np.array([[3.0]]), values=values)


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")  # 2 epochs
def test_the_estimator_builds_the_critic_that_critic_type_names(biased_data):
    X, y, group = biased_data
    default = MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)
    assert isinstance(default.net_.critic_, StatisticsNetwork)
    auto = MIUnbiasedClassifier(**_fast("auto")).fit(X, y, sensitive_features=group)
    assert isinstance(auto.net_.critic_, ClassifierCritic)
    assert auto.net_.critic_lr_ == pytest.approx(3e-3)
    concat = MIUnbiasedClassifier(**_fast("concat"))
    concat.fit(X, y, sensitive_features=group)
    assert isinstance(concat.net_.critic_, StatisticsNetwork)
    assert concat.net_.critic_lr_ == pytest.approx(1e-3)
    continuous = np.random.RandomState(0).normal(size=len(y))
    colour_like = MIUnbiasedClassifier(sensitive_encoding="continuous", **_fast("auto"))
    colour_like.fit(X, y, sensitive_features=continuous)
    assert isinstance(colour_like.net_.critic_, StatisticsNetwork)
    classifier = MIUnbiasedClassifier(sensitive_encoding="continuous", **_fast("classifier"))
    with pytest.raises(ValueError, match="critic_type='classifier' needs an attribute"):
        classifier.fit(X, y, sensitive_features=continuous)


def test_classifier_critic_bound_is_at_most_the_entropy():
    # H(C) - CE <= H(C): the bound never exceeds the attribute's entropy
    torch.manual_seed(0)
    z, c, marginal = _binary_problem()
    critic = make_critic("classifier", marginal, 4, 1, (16,))
    optimizer = make_critic_optimizer(torch.optim.Adam, critic, 1e-2)
    for _ in range(200):
        critic_step(critic, optimizer, marginal, z, c)
    bound, _ = penalty(critic, marginal, z, c)
    p = torch.exp(marginal.log_probabilities[0])
    assert bound.item() <= -(p * torch.log(p)).sum().item() + 1e-6
    assert math.isfinite(bound.item())
