"""scikit-learn's estimator checks on MIUnbiasedClassifier and MIUnbiasedRegressor (fast)."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fairmine import MIUnbiasedClassifier, MIUnbiasedRegressor
from fairmine.mi import DonskerVaradhan

# Fast and still a real fit: 10 epochs with a large learning rate so the checks that demand a
# minimum training accuracy pass; K = 2 so the critic does run.
FAST = MIUnbiasedClassifier(
    max_epochs=10, lr=0.01, penalty=DonskerVaradhan(steps=2, warmup_steps=2), random_state=0
)
FAST_REGRESSOR = MIUnbiasedRegressor(
    max_epochs=10, lr=0.01, penalty=DonskerVaradhan(steps=2, warmup_steps=2), random_state=0
)

# The checks call fit(X, y) without sensitive_features, which warns by design; and some fit
# random labels on unscaled inputs (mean 100), where the ReLU representation does collapse and
# the warning is right. The checks' own assertions still run.
pytestmark = [
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.NoSensitiveFeaturesWarning"),
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.RepresentationCollapseWarning"),
    # the checks fit a few epochs on random labels: no better than a constant, rightly
    pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning"),
]

EXPECTED_FAILED_CHECKS: dict[str, str] = {
    # measured: the weighted fit matches the fit on repeated rows to 1.2e-7 absolute (float32
    # arithmetic sums the loss in another order; the regressor's transform to 1.8e-7), and the
    # check demands 1e-7 relative
    "check_sample_weight_equivalence_on_dense_data": "float32 sums differ by ~1e-7",
}


@parametrize_with_checks(
    [FAST, FAST_REGRESSOR], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
