"""scikit-learn's estimator checks on MIUnbiasedRegressor (fast settings)."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fairmine import MIUnbiasedRegressor

# As for the classifier: a real fit, short, with the critic running (K = 2).
FAST = MIUnbiasedRegressor(
    max_epochs=10, lr=0.01, critic_steps=2, critic_warmup_steps=2, random_state=0
)

# The checks fit without sensitive_features (a warning by design), and some fit noise or
# unscaled inputs, where the warnings about collapse and no better than the mean are right.
pytestmark = [
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.NoSensitiveFeaturesWarning"),
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.RepresentationCollapseWarning"),
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning"),
]

EXPECTED_FAILED_CHECKS: dict[str, str] = {
    # measured: transform after the weighted fit matches the fit on repeated rows to 1.8e-7
    # absolute (float32 sums in another order, as for the classifier); the check demands 1e-7
    "check_sample_weight_equivalence_on_dense_data": "float32 sums differ by ~2e-7",
}


@parametrize_with_checks([FAST], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
