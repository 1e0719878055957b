import math

import numpy as np
import pytest

from fairmine import estimate_mi


def test_jointly_gaussian_within_15_percent_of_the_truth():
    rho = 0.8
    truth = -0.5 * math.log(1 - rho**2)  # 0.511 nats
    rng = np.random.RandomState(0)
    z = rng.normal(size=4000)
    c = rho * z + math.sqrt(1 - rho**2) * rng.normal(size=4000)
    estimate = estimate_mi(z.reshape(-1, 1), c, random_state=0)
    assert estimate == pytest.approx(truth, rel=0.15)


def test_independent_variables_give_about_zero():
    rng = np.random.RandomState(1)
    estimate = estimate_mi(rng.normal(size=(4000, 1)), rng.normal(size=4000), random_state=0)
    assert abs(estimate) < 0.03


def test_independent_binary_attribute_gives_about_zero():
    rng = np.random.RandomState(2)
    estimate = estimate_mi(rng.normal(size=(2000, 3)), rng.randint(0, 2, 2000), random_state=0)
    assert abs(estimate) < 0.03


def test_attribute_revealed_by_z_gives_its_entropy():
    rng = np.random.RandomState(3)
    c = rng.randint(0, 4, 2000)
    z = np.c_[c + rng.normal(scale=0.05, size=2000), rng.normal(size=2000)]
    estimate = estimate_mi(z, c, random_state=0)
    assert estimate == pytest.approx(math.log(4), rel=0.05)


def test_bad_input_is_rejected():
    rng = np.random.RandomState(0)
    z = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="C has 49 rows but Z has 50"):
        estimate_mi(z, rng.randint(0, 2, 49))
    z[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimate_mi(z, rng.randint(0, 2, 50))
