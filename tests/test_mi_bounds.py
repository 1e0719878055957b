import math

import numpy as np
import pytest
import torch

from fairmine.mi import (
    MAX_EXACT_MARGINAL_VALUES,
    DiscreteMarginal,
    ShuffledMarginal,
    adaptive_clip_,
    bias_corrected,
    donsker_varadhan,
    log_mean_exp,
    make_marginal,
    update_log_ema,
    within_group_permutation,
)


def test_log_mean_exp_matches_naive_formula_on_small_values():
    values = torch.tensor([0.1, -1.0, 2.0, 0.5], dtype=torch.float64)
    expected = torch.log(torch.exp(values).mean())
    assert torch.allclose(log_mean_exp(values), expected)


def test_log_mean_exp_is_stable_where_the_naive_formula_overflows():
    values = torch.tensor([1000.0, 1000.0, 1000.0 + math.log(4.0)])
    naive = torch.log(torch.exp(values).mean())
    assert not torch.isfinite(naive)
    assert log_mean_exp(values).item() == pytest.approx(1000.0 + math.log(2.0), abs=1e-3)


def test_donsker_varadhan_is_zero_for_a_constant_critic():
    assert donsker_varadhan(torch.full((5,), 3.0), torch.full((7,), 3.0)).item() == pytest.approx(
        0, abs=1e-6
    )


def test_donsker_varadhan_value():
    t_joint = torch.tensor([1.0, 2.0])
    t_marginal = torch.tensor([0.0, 0.0])
    assert donsker_varadhan(t_joint, t_marginal).item() == pytest.approx(1.5)


def test_bias_corrected_value_is_the_minibatch_value_and_gradient_uses_the_average():
    t = torch.tensor([0.0, math.log(3.0)], requires_grad=True)
    log_ema = torch.tensor(math.log(4.0))
    out = bias_corrected(log_mean_exp(t), log_ema)
    assert out.item() == pytest.approx(math.log(2.0))
    out.backward()
    # d/dt_i of mean(exp t) / EMA = exp(t_i) / (n * EMA)
    assert torch.allclose(t.grad, torch.tensor([1 / 8, 3 / 8]))


def test_bias_corrected_gradient_equals_plain_gradient_when_average_equals_batch():
    t = torch.tensor([0.3, -0.2, 1.1], requires_grad=True)
    plain = torch.autograd.grad(log_mean_exp(t), t)[0]
    corrected = torch.autograd.grad(bias_corrected(log_mean_exp(t), log_mean_exp(t).detach()), t)[0]
    assert torch.allclose(plain, corrected)


def test_update_log_ema_is_an_exponential_moving_average_in_log_space():
    log_ema = update_log_ema(None, torch.tensor(math.log(2.0)), 0.1)
    assert log_ema.item() == pytest.approx(math.log(2.0))
    log_ema = update_log_ema(log_ema, torch.tensor(math.log(12.0)), 0.1)
    assert log_ema.exp().item() == pytest.approx(0.9 * 2 + 0.1 * 12, rel=1e-5)
    assert update_log_ema(log_ema, torch.tensor(0.5), 1.0).item() == pytest.approx(0.5)


def test_update_log_ema_survives_values_that_overflow_exp():
    log_ema = update_log_ema(torch.tensor(500.0), torch.tensor(800.0), 0.5)
    assert torch.isfinite(log_ema)
    assert log_ema.item() == pytest.approx(800.0 + math.log(0.5), abs=1e-3)


def test_adaptive_clip_scales_only_gradients_larger_than_the_reference():
    big, small = torch.tensor([3.0, 4.0]), torch.tensor([0.3, 0.4])
    adaptive_clip_([big, small], [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])])
    assert torch.linalg.norm(big).item() == pytest.approx(1.0)
    assert torch.allclose(big, torch.tensor([0.6, 0.8]))
    assert torch.allclose(small, torch.tensor([0.3, 0.4]))


def test_adaptive_clip_leaves_zero_gradients_finite():
    grad = torch.zeros(3)
    adaptive_clip_([grad], [torch.zeros(3)])
    assert torch.equal(grad, torch.zeros(3))


def test_adaptive_clip_rejects_mismatched_lists():
    with pytest.raises(ValueError, match="same length"):
        adaptive_clip_([torch.ones(1)], [])


def _critic(z, c, given=None):
    return (z * c).sum(1)


def test_discrete_marginal_is_the_exact_product_of_marginals():
    values = torch.tensor([[0.0], [1.0]])
    marginal = DiscreteMarginal(values, torch.tensor([[0.25, 0.75]]))
    z = torch.tensor([[1.0], [2.0]])
    c = torch.tensor([[1.0], [0.0]])
    t_joint, log_marginal = marginal.terms(_critic, z, c)
    assert torch.allclose(t_joint, torch.tensor([1.0, 0.0]))
    expected = math.log(np.mean([0.25 + 0.75 * math.e, 0.25 + 0.75 * math.e**2]))
    assert log_mean_exp(log_marginal).item() == pytest.approx(expected, rel=1e-6)


def test_conditional_discrete_marginal_weights_each_row_by_its_own_group():
    values = torch.tensor([[0.0], [1.0]])
    # p(c | g=0) = (1, 0): group 0 only ever has c = 0; p(c | g=1) = (0.5, 0.5)
    marginal = DiscreteMarginal(values, torch.tensor([[1.0, 0.0], [0.5, 0.5]]))
    z = torch.tensor([[1.0], [2.0]])
    c = torch.tensor([[0.0], [1.0]])
    given = torch.tensor([0, 1])
    _, log_marginal = marginal.terms(_critic, z, c, given)
    # row 0: exp T(z=1, c=0) = 1; row 1: 0.5 * exp(0) + 0.5 * exp(2)
    expected = torch.log(torch.tensor([1.0, 0.5 + 0.5 * math.e**2]))
    assert torch.allclose(log_marginal, expected)


def test_shuffled_marginal_pairs_each_z_with_a_permuted_c():
    torch.manual_seed(0)
    z = torch.arange(6.0).view(-1, 1)
    c = torch.arange(6.0).view(-1, 1) + 10
    seen = {}
    t_joint, t_marginal = ShuffledMarginal().terms(
        lambda z, c, given: z[:, 0] * 100 + c[:, 0], z, c
    )
    for value in t_marginal.tolist():
        seen[int(value // 100)] = value % 100
    assert torch.equal(t_joint, z[:, 0] * 100 + c[:, 0])
    assert sorted(seen.values()) == sorted(c[:, 0].tolist())


def test_within_group_permutation_keeps_rows_in_their_group_and_mixes_them():
    torch.manual_seed(0)
    given = torch.tensor([2, 0, 1, 0, 2, 2, 1, 0, 0, 2] * 20)
    permutation = within_group_permutation(given, len(given), given.device)
    assert sorted(permutation.tolist()) == list(range(len(given)))
    assert torch.equal(given[permutation], given)
    assert (permutation != torch.arange(len(given))).float().mean() > 0.5


def test_conditional_shuffle_draws_c_within_each_group():
    torch.manual_seed(0)
    given = torch.tensor([0, 1] * 50)
    c = (given.float() * 10 + torch.rand(100)).view(-1, 1)  # c reveals the group
    z = torch.zeros(100, 1)
    _, t_marginal = ShuffledMarginal().terms(lambda z, c, g: c[:, 0], z, c, given, draws=3)
    assert torch.equal((t_marginal // 10).long(), given.repeat(3))


def test_make_marginal_chooses_exact_term_for_few_values_and_shuffling_otherwise():
    few = np.repeat(np.eye(3, dtype=np.float32), 5, axis=0)
    exact = make_marginal(few)
    assert isinstance(exact, DiscreteMarginal)
    assert torch.allclose(exact.log_probabilities.exp(), torch.full((1, 3), 1 / 3))
    many = np.arange(MAX_EXACT_MARGINAL_VALUES + 1, dtype=np.float32).reshape(-1, 1)
    assert isinstance(make_marginal(many), ShuffledMarginal)


def test_make_marginal_given_groups_uses_the_frequencies_within_each_group():
    c = np.array([[0.0], [0.0], [1.0], [0.0], [1.0], [1.0], [1.0]], dtype=np.float32)
    given = np.array([0, 0, 0, 0, 1, 1, 1])
    exact = make_marginal(c, given, n_groups=3)
    expected = torch.tensor([[0.75, 0.25], [0.0, 1.0], [3 / 7, 4 / 7]])  # group 2 is empty
    assert torch.allclose(exact.log_probabilities.exp(), expected)
