import math

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from fairmine import estimate_mi

GAUSSIAN_RHO = 0.8
GAUSSIAN_TRUTH = -0.5 * math.log(1 - GAUSSIAN_RHO**2)  # 0.511 nats


def _gaussian_pair(rng, n, rho=GAUSSIAN_RHO):
    z = rng.normal(size=n)
    return z, rho * z + math.sqrt(1 - rho**2) * rng.normal(size=n)


@pytest.mark.slow
def test_gaussian_truth_is_covered_by_two_standard_errors_over_20_seeds():
    estimates, errors = [], []
    for seed in range(20):
        z, c = _gaussian_pair(np.random.RandomState(seed), 2000)
        mi, std_error = estimate_mi(z.reshape(-1, 1), c, return_std=True, random_state=seed)
        estimates.append(mi)
        errors.append(std_error)
    estimates, errors = np.array(estimates), np.array(errors)
    covered = np.abs(estimates - GAUSSIAN_TRUTH) <= 2 * errors
    assert covered.mean() >= 0.8, (estimates, errors)
    assert estimates.mean() == pytest.approx(GAUSSIAN_TRUTH, rel=0.10)


def test_independent_variables_give_zero_within_two_standard_errors():
    rng = np.random.RandomState(1)
    mi, std_error = estimate_mi(rng.normal(size=(2000, 1)), rng.normal(size=2000), return_std=True)
    assert abs(mi) <= 2 * std_error
    assert abs(mi) < 0.03


#: the two critics of an attribute with few values: every discrete ground truth holds for both
DISCRETE_CRITICS = pytest.mark.parametrize("critic_type", ["concat", "classifier"])


@DISCRETE_CRITICS
def test_independent_binary_attribute_gives_about_zero(critic_type):
    rng = np.random.RandomState(2)
    mi, std_error = estimate_mi(
        rng.normal(size=(2000, 3)), rng.randint(0, 2, 2000), return_std=True,
        critic_type=critic_type,
    )  # fmt: skip
    assert abs(mi) <= 2 * std_error
    assert abs(mi) < 0.03


@DISCRETE_CRITICS
def test_attribute_revealed_by_z_gives_its_entropy(critic_type):
    rng = np.random.RandomState(3)
    c = rng.randint(0, 4, 2000)
    z = np.c_[c + rng.normal(scale=0.05, size=2000), rng.normal(size=2000)]
    assert estimate_mi(z, c, critic_type=critic_type) == pytest.approx(math.log(4), rel=0.05)


@DISCRETE_CRITICS
def test_known_value_of_a_binary_attribute_shifting_a_gaussian(critic_type):
    # c uniform on {0, 1}, z ~ N(2c - 1, 1): p(c = 1 | z) = sigmoid(2 z), so
    # I(Z; C) = ln 2 - E[h(sigmoid(2 z))], integrated on a grid (0.4856 nats)
    grid = np.linspace(-10, 10, 200_001)
    density = 0.5 * (np.exp(-0.5 * (grid - 1) ** 2) + np.exp(-0.5 * (grid + 1) ** 2))
    density /= np.sqrt(2 * np.pi)
    posterior = 1 / (1 + np.exp(-2 * grid))
    entropy = -(posterior * np.log(posterior) + (1 - posterior) * np.log1p(-posterior))
    truth = math.log(2) - np.sum(density * entropy) * (grid[1] - grid[0])
    rng = np.random.RandomState(8)
    c = rng.randint(0, 2, 4000)
    z = (2 * c - 1 + rng.normal(size=4000)).reshape(-1, 1)
    mi, std_error = estimate_mi(z, c, return_std=True, critic_type=critic_type)
    assert abs(mi - truth) <= 2 * std_error + 0.01
    assert mi == pytest.approx(truth, rel=0.1)


@DISCRETE_CRITICS
def test_conditionally_independent_attribute_gives_zero_given_y_but_not_without(critic_type):
    # y drives both z and c; given y they are independent
    rng = np.random.RandomState(4)
    y = rng.randint(0, 2, 3000)
    z = np.c_[y + rng.normal(scale=0.3, size=3000), rng.normal(size=3000)]
    c = np.where(rng.uniform(size=3000) < 0.9, y, 1 - y)
    plain = estimate_mi(z, c, critic_type=critic_type)
    given, std_error = estimate_mi(z, c, given=y, return_std=True, critic_type=critic_type)
    assert plain > 0.25  # I(Z; C) is about 0.3 nats
    assert abs(given) <= 2 * std_error
    assert abs(given) < 0.03


def test_known_conditional_value_with_a_continuous_attribute():
    # given y = 0, (z, c) are Gaussian with rho 0.8; given y = 1 independent
    rng = np.random.RandomState(5)
    n = 4000
    y = rng.randint(0, 2, n)
    z, c = _gaussian_pair(rng, n)
    c = np.where(y == 0, c, rng.normal(size=n))
    truth = np.mean(y == 0) * GAUSSIAN_TRUTH
    mi, std_error = estimate_mi(z.reshape(-1, 1), c, given=y, return_std=True)
    assert abs(mi - truth) <= 2 * std_error + 0.02
    assert mi == pytest.approx(truth, rel=0.15)


@DISCRETE_CRITICS
def test_known_conditional_value_with_a_discrete_attribute(critic_type):
    # c uniform over 4 values, revealed by z in the class y = 1 only: I(Z; C | Y) = p(1) ln 4
    rng = np.random.RandomState(6)
    n = 3000
    y = rng.randint(0, 2, n)
    c = rng.randint(0, 4, n)
    z = np.where(y == 1, c, rng.randint(0, 4, n)) + rng.normal(scale=0.05, size=n)
    truth = np.mean(y == 1) * math.log(4)
    mi = estimate_mi(z.reshape(-1, 1), c, given=y, critic_type=critic_type)
    assert mi == pytest.approx(truth, rel=0.05)


def test_a_classifier_critic_needs_an_attribute_with_few_values():
    rng = np.random.RandomState(9)
    with pytest.raises(ValueError, match="critic_type='classifier' needs an attribute"):
        estimate_mi(rng.normal(size=(100, 1)), rng.normal(size=100), critic_type="classifier")


def test_default_seed_makes_the_estimate_reproducible():
    rng = np.random.RandomState(7)
    z, c = _gaussian_pair(rng, 500)
    first = estimate_mi(z.reshape(-1, 1), c, max_steps=300, return_std=True)
    assert estimate_mi(z.reshape(-1, 1), c, max_steps=300, return_std=True) == first
    assert len(first) == 2 and first[1] > 0


def test_bad_input_is_rejected():
    rng = np.random.RandomState(0)
    z = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="C has 49 rows but Z has 50"):
        estimate_mi(z, rng.randint(0, 2, 49))
    with pytest.raises(ValueError, match="given has 49 rows but Z has 50"):
        estimate_mi(z, rng.randint(0, 2, 50), given=rng.randint(0, 2, 49))
    with pytest.raises(ValueError, match="at least 10 samples"):
        estimate_mi(z[:5], rng.randint(0, 2, 5))
    with pytest.raises(ValueError, match="validation_size \\+ test_size"):
        estimate_mi(z, rng.randint(0, 2, 50), validation_size=0.5, test_size=0.5)
    for argument in ("max_steps", "batch_size", "eval_every", "patience"):
        with pytest.raises(InvalidParameterError, match=f"'{argument}' parameter"):
            estimate_mi(z, rng.randint(0, 2, 50), **{argument: 0})
    z[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimate_mi(z, rng.randint(0, 2, 50))
