"""What the critic costs: ``DonskerVaradhan(steps="auto", bank_size="auto")``, its optimizer."""

import numpy as np
import pytest
import torch
from torch import nn

from fairmine import MIUnbiasedClassifier
from fairmine.mi import DonskerVaradhan, _critic_loop
from fairmine.mi._critic import make_critic_optimizer
from fairmine.mi._critic_budget import (
    MAX_AUTO_CRITIC_STEPS,
    MIN_AUTO_CRITIC_STEPS,
    auto_critic_steps,
    forward_flops,
)
from fairmine.networks import DigitsCNN

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

WARMUP = 3


def _fast(**critic):
    """One epoch with a critic of ``critic`` settings after 3 warm-up updates."""
    return {
        "max_epochs": 1,
        "penalty": DonskerVaradhan(warmup_steps=WARMUP, **critic),
        "random_state": 0,
    }


def test_forward_flops_counts_a_matrix_product():
    layer = nn.Linear(10, 5)
    assert forward_flops(lambda: layer(torch.zeros(4, 10))) == 2 * 4 * 10 * 5


@pytest.mark.parametrize(
    ("encoder", "critic", "steps"),
    [(100, 1000, 3), (250, 100, 3), (999, 100, 9), (10**6, 10, 40), (5, 0, 40)],
)
def test_auto_critic_steps_is_the_flop_ratio_within_its_bounds(encoder, critic, steps):
    assert auto_critic_steps(encoder, critic) == steps


def test_an_mlp_gets_the_fewest_critic_steps_and_a_bank_of_one_batch(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**_fast()).fit(X, y, sensitive_features=group)
    assert (clf.critic_steps_, clf.critic_bank_size_) == (MIN_AUTO_CRITIC_STEPS, clf.batch_size)


def test_a_cnn_gets_forty_critic_steps_and_the_bank_follows_the_critic_batch():
    rng = np.random.RandomState(0)
    images = rng.rand(64, 3, 28, 28).astype(np.float32)
    colour = rng.randint(0, 2, (64, 24))  # 24-bit codes: too many values for the exact marginal
    clf = MIUnbiasedClassifier(
        backbone=DigitsCNN(), embedding_dim=64, batch_size=32, **_fast(batch_size=200)
    )
    clf.fit(images, rng.randint(0, 2, 64), sensitive_features=colour)
    assert (clf.critic_steps_, clf.critic_bank_size_) == (MAX_AUTO_CRITIC_STEPS, 200)


def test_fresh_critic_batches_get_one_step_and_no_bank(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**_fast(sampling="fresh"))
    clf.fit(X, y, sensitive_features=group)
    assert (clf.critic_steps_, clf.critic_bank_size_) == (1, 0)


def test_given_values_are_kept_and_erm_trains_no_critic(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**_fast(steps=3, bank_size=100))
    assert (clf.fit(X, y, sensitive_features=group).critic_steps_, clf.critic_bank_size_) == (
        3,
        100,
    )
    erm = MIUnbiasedClassifier(mi_weight=0.0, **_fast()).fit(X, y, sensitive_features=group)
    assert (erm.critic_steps_, erm.critic_bank_size_) == (0, 0)


def test_auto_trains_exactly_like_the_values_it_resolves_to(biased_data):
    X, y, group = biased_data
    auto = MIUnbiasedClassifier(max_epochs=3, random_state=0).fit(X, y, sensitive_features=group)
    given = MIUnbiasedClassifier(
        max_epochs=3, random_state=0,
        penalty=DonskerVaradhan(steps=auto.critic_steps_, bank_size=auto.critic_bank_size_),
    ).fit(X, y, sensitive_features=group)  # fmt: skip
    np.testing.assert_array_equal(auto.transform(X), given.transform(X))


@pytest.mark.parametrize("steps", ["auto", 3])
def test_each_encoder_step_follows_steps_critic_updates(biased_data, monkeypatch, steps):
    X, y, group = biased_data
    updates = []
    step = _critic_loop.critic_step
    monkeypatch.setattr(
        _critic_loop, "critic_step", lambda *a, **k: updates.append(1) or step(*a, **k)
    )
    clf = MIUnbiasedClassifier(batch_size=50, **_fast(steps=steps))
    clf.fit(X, y, sensitive_features=group)
    encoder_steps = int(np.ceil(len(y) / 50))
    assert len(updates) == WARMUP + clf.critic_steps_ * encoder_steps


@pytest.mark.parametrize("name", ["steps", "bank_size"])
def test_other_strings_are_refused(biased_data, name):
    X, y, group = biased_data
    with pytest.raises(ValueError, match=f"'{name}' parameter of DonskerVaradhan"):
        MIUnbiasedClassifier(**_fast(**{name: "many"})).fit(X, y, sensitive_features=group)


class MyAdam(torch.optim.Adam):
    """A subclass, which may not take ``fused``."""


@pytest.mark.parametrize(
    ("optimizer", "fused"),
    [(torch.optim.Adam, True), (torch.optim.AdamW, True), (MyAdam, None), (torch.optim.SGD, None)],
)
def test_adam_and_adamw_run_fused_and_other_optimizers_as_given(optimizer, fused):
    built = make_critic_optimizer(optimizer, nn.Linear(3, 1), lr=0.1)
    assert type(built) is optimizer and built.defaults.get("fused") == fused
    assert built.defaults["lr"] == 0.1


def test_the_fitted_critic_optimizer_is_fused(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**_fast()).fit(X, y, sensitive_features=group)
    assert clf.net_.critic_optimizer_.defaults["fused"] is True
