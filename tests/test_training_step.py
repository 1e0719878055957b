"""The encoder step: where the MI gradient is clipped and how many encoder passes it costs."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from fairmine import MIUnbiasedClassifier
from fairmine._gradient_rules import GRADIENT_RULES, PerTensorClipping, RepresentationClipping
from fairmine._sensitive import encode_sensitive_features
from fairmine.mi import penalty

# these tests check plumbing with fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

FAST = {"max_epochs": 1, "critic_steps": 1, "critic_warmup_steps": 2, "random_state": 0}


class CountingBackbone(nn.Module):
    """A linear layer that counts the backward passes reaching its output."""

    backward_passes = 0  # a class attribute: fit trains a deep copy of the instance

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x)
        if out.requires_grad:
            out.register_hook(self._count)
        return out

    @classmethod
    def _count(cls, grad: torch.Tensor) -> None:
        cls.backward_passes += 1


@pytest.mark.parametrize(
    ("clip_mi_gradient", "passes_per_step"),
    [("representation", 1), (None, 1), ("per_tensor", 2)],
)
def test_joint_update_backpropagates_through_the_encoder_once_unless_clipped_per_tensor(
    biased_data, clip_mi_gradient, passes_per_step
):
    X, y, group = biased_data
    CountingBackbone.backward_passes = 0
    MIUnbiasedClassifier(
        backbone=CountingBackbone(X.shape[1]),
        clip_mi_gradient=clip_mi_gradient,
        batch_size=50,
        **FAST,
    ).fit(X, y, sensitive_features=group)
    encoder_steps = math.ceil(len(y) / 50)
    assert CountingBackbone.backward_passes == passes_per_step * encoder_steps


def _step_gradients(net, clip_mi_gradient, x, c, y, mi_scale):
    """Parameter gradients of one joint encoder step, and the same built by hand.

    The rule clips at ``u``, the pre-activation of ``z = relu(u)``; ``mi_scale``
    multiplies the MI objective so that the clipping has something to clip.
    """
    rule = GRADIENT_RULES[clip_mi_gradient]
    module = net.module_
    encoder, head = list(module.encoder_parameters()), list(module.head.parameters())
    mi_weight = net.mi.mi_weight

    def losses():
        u = module.pre_activation(x)
        z = module.activation(u)
        task = net.criterion_(module.head(z), y)
        mi, _ = penalty(net.critic_, net.marginal_, z, c)
        return u, task, mi_scale * mi

    u, task, mi = losses()
    grads = rule.combined(task, mi, u, encoder, head, mi_weight)

    u, task, mi = losses()
    du_task = torch.autograd.grad(task, u, retain_graph=True)[0]
    du_mi = torch.autograd.grad(mi, u, retain_graph=True)[0]
    scale = 1.0
    if clip_mi_gradient == "representation":
        scale = min(1.0, float(du_task.norm() / du_mi.norm()))
    expected = torch.autograd.grad(task + mi_weight * scale * mi, encoder + head)
    return grads, expected, float(du_mi.norm() / du_task.norm())


def test_each_clipping_value_has_its_named_rule():
    assert isinstance(GRADIENT_RULES["per_tensor"], PerTensorClipping)
    assert GRADIENT_RULES["representation"] == RepresentationClipping(clip=True)
    assert GRADIENT_RULES[None] == RepresentationClipping(clip=False)


@pytest.mark.parametrize("clip_mi_gradient", [None, "representation"])
def test_representation_gradients_are_the_chain_rule_of_the_clipped_objective(
    biased_data, clip_mi_gradient
):
    X, y, group = biased_data
    torch.manual_seed(0)
    clf = MIUnbiasedClassifier(mi_weight=3.0, **FAST).fit(X, y, sensitive_features=group)
    net = clf.net_
    x = torch.tensor(X[:64], dtype=torch.float32)
    c = torch.as_tensor(encode_sensitive_features(group[:64]), dtype=torch.float32)
    grads, expected, ratio = _step_gradients(
        net, clip_mi_gradient, x, c, torch.tensor(y[:64]), mi_scale=100.0
    )
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    if clip_mi_gradient == "representation":
        assert ratio > 1.0, "the test must exercise the clipping"


def test_clipping_rules_give_different_updates(biased_data):
    X, y, group = biased_data
    params = {"mi_weight": 50.0, **FAST, "max_epochs": 3}
    models = {
        rule: MIUnbiasedClassifier(clip_mi_gradient=rule, **params).fit(
            X, y, sensitive_features=group
        )
        for rule in ("representation", "per_tensor")
    }
    z = {rule: model.transform(X) for rule, model in models.items()}
    assert not np.allclose(z["representation"], z["per_tensor"])


def test_per_tensor_rule_clips_the_mi_gradient_then_weights_it_by_lambda(biased_data):
    """The documented order: clip to the task gradient's norm, then multiply by mi_weight."""
    X, y, group = biased_data
    torch.manual_seed(0)
    clf = MIUnbiasedClassifier(mi_weight=3.0, **FAST).fit(X, y, sensitive_features=group)
    net = clf.net_
    module = net.module_
    encoder, head = list(module.encoder_parameters()), list(module.head.parameters())
    mi_weight = net.mi.mi_weight
    x = torch.tensor(X[:64], dtype=torch.float32)
    c = torch.as_tensor(encode_sensitive_features(group[:64]), dtype=torch.float32)

    def losses():
        u = module.pre_activation(x)
        z = module.activation(u)
        mi, _ = penalty(net.critic_, net.marginal_, z, c)
        return u, net.criterion_(module.head(z), torch.tensor(y[:64])), 100.0 * mi

    u, task, mi = losses()
    combined = PerTensorClipping().combined(task, mi, u, encoder, head, mi_weight)
    _, task, mi = losses()
    task_grads = torch.autograd.grad(task, encoder, retain_graph=True)
    mi_grads = torch.autograd.grad(mi, encoder)
    clipped = 0
    for got, g_task, g_mi in zip(combined[: len(encoder)], task_grads, mi_grads, strict=True):
        penalty_part = (got - g_task).norm()
        bound = mi_weight * min(g_task.norm(), g_mi.norm())
        assert float(penalty_part) == pytest.approx(float(bound), rel=1e-4, abs=1e-7)
        clipped += bool(g_mi.norm() > g_task.norm())
        assert penalty_part <= mi_weight * g_task.norm() * (1 + 1e-4) + 1e-7
    assert clipped > 0, "the test must exercise the clipping"


@pytest.mark.parametrize("clip_mi_gradient", ["per_tensor", "representation", None])
def test_joint_gradients_are_the_separate_ones_summed_with_lambda(biased_data, clip_mi_gradient):
    """The joint update's gradients are the separate update's two parts, MI weighted by lambda."""
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(mi_weight=3.0, **FAST).fit(X, y, sensitive_features=group)
    net, rule = clf.net_, GRADIENT_RULES[clip_mi_gradient]
    module = net.module_
    encoder, head = list(module.encoder_parameters()), list(module.head.parameters())
    x = torch.tensor(X[:64], dtype=torch.float32)
    c = torch.as_tensor(encode_sensitive_features(group[:64]), dtype=torch.float32)

    def losses():
        u = module.pre_activation(x)
        z = module.activation(u)
        mi, _ = penalty(net.critic_, net.marginal_, z, c)
        return net.criterion_(module.head(z), torch.tensor(y[:64])), 100.0 * mi, u

    task, mi = rule.split(*losses(), encoder, head)
    combined = rule.combined(*losses(), encoder, head, 3.0)
    assert len(task) == len(combined) == len(encoder) + len(head) and len(mi) == len(encoder)
    for got, g_task, g_mi in zip(combined, task, (*mi, *[0.0] * len(head)), strict=True):
        torch.testing.assert_close(got, g_task + 3.0 * g_mi, rtol=1e-4, atol=1e-6)
    assert any(float(g.norm()) > 0 for g in mi), "the test must carry an MI gradient"
