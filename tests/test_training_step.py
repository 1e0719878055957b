"""The encoder step: where the MI gradient is clipped and how many encoder passes it costs."""

import math

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from torch import nn

from fairmine import MIUnbiasedClassifier
from fairmine._engine.gradient_rules import (
    GRADIENT_RULES,
    Objectives,
    Parameters,
    PerTensorClipping,
    RepresentationClipping,
)
from fairmine._sensitive import encode_sensitive_features
from fairmine.mi import DonskerVaradhan, penalty

# these tests check plumbing with fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

FAST = {"max_epochs": 1, "penalty": DonskerVaradhan(steps=1, warmup_steps=2), "random_state": 0}


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


def _fitted_net(biased_data):
    X, y, group = biased_data
    torch.manual_seed(0)
    return MIUnbiasedClassifier(mi_weight=3.0, **FAST).fit(X, y, sensitive_features=group).net_


def _objectives(net, biased_data, mi_scale=100.0):
    """The objectives of one step on 64 rows, and the trainable parameters.

    ``mi_scale`` multiplies the MI objective so that the clipping has something to clip.
    """
    X, y, group = biased_data
    module = net.module_
    u = module.pre_activation(torch.tensor(X[:64], dtype=torch.float32))
    z = module.activation(u)
    c = torch.as_tensor(encode_sensitive_features(group[:64]), dtype=torch.float32)
    mi, _ = penalty(net.critic_, net.marginal_, z, c)
    task = net.criterion_(module.head(z), torch.tensor(y[:64]))
    params = Parameters(list(module.encoder_parameters()), list(module.head.parameters()))
    return Objectives(task, mi_scale * mi, u), params


def test_each_clipping_value_has_its_named_rule():
    assert isinstance(GRADIENT_RULES["per_tensor"], PerTensorClipping)
    assert GRADIENT_RULES["representation"] == RepresentationClipping(clip=True)
    assert GRADIENT_RULES[None] == RepresentationClipping(clip=False)


@pytest.mark.parametrize("clip_mi_gradient", [None, "representation"])
def test_representation_gradients_are_the_chain_rule_of_the_clipped_objective(
    biased_data, clip_mi_gradient
):
    """The rule clips at ``u``, the pre-activation of ``z = relu(u)``: the same built by hand."""
    net = _fitted_net(biased_data)
    mi_weight = net.mi.mi_weight
    grads = GRADIENT_RULES[clip_mi_gradient].combined(*_objectives(net, biased_data), mi_weight)
    (task, mi, u), params = _objectives(net, biased_data)
    du_task = torch.autograd.grad(task, u, retain_graph=True)[0]
    du_mi = torch.autograd.grad(mi, u, retain_graph=True)[0]
    scale = 1.0
    if clip_mi_gradient == "representation":
        scale = min(1.0, float(du_task.norm() / du_mi.norm()))
        assert du_mi.norm() > du_task.norm(), "the test must exercise the clipping"
    expected = torch.autograd.grad(task + mi_weight * scale * mi, params.encoder + params.head)
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


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
    net = _fitted_net(biased_data)
    mi_weight = net.mi.mi_weight
    combined = PerTensorClipping().combined(*_objectives(net, biased_data), mi_weight)
    (task, mi, _), params = _objectives(net, biased_data)
    encoder = params.encoder
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
    net, rule = _fitted_net(biased_data), GRADIENT_RULES[clip_mi_gradient]
    task, mi = rule.split(*_objectives(net, biased_data))
    combined = rule.combined(*_objectives(net, biased_data), 3.0)
    n_head = len(list(net.module_.head.parameters()))
    assert len(task) == len(combined) == len(mi) + n_head
    for got, g_task, g_mi in zip(combined, task, (*mi, *[0.0] * n_head), strict=True):
        want = g_task + 3.0 * g_mi  # float32 sums: a tolerance in proportion to their size
        atol = 1e-6 * max(1.0, float(want.abs().max()))
        torch.testing.assert_close(got, want, rtol=1e-4, atol=atol)
    assert any(float(g.norm()) > 0 for g in mi), "the test must carry an MI gradient"


def test_a_learning_rate_schedule_also_schedules_the_separate_mi_step(biased_data):
    """skorch's LRScheduler acts on the task optimiser; the MI step follows at mi_weight times."""
    from skorch.callbacks import LRScheduler

    X, y, group = biased_data
    seen = {}

    class RecordMILearningRate(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:  # the rates the step just used, by epoch
                task = net.optimizer_.param_groups[0]["lr"]
                seen[len(net.history)] = (task, net.mi_optimizer_.param_groups[0]["lr"])

    MIUnbiasedClassifier(
        **{**FAST, "max_epochs": 3},
        lr=1e-2,
        mi_weight=0.5,
        mi_update="separate",
        callbacks=[LRScheduler("StepLR", step_size=1, gamma=0.1), RecordMILearningRate()],
    ).fit(X, y, sensitive_features=group)
    # the MI step of epoch e ran at 0.5 times the task's rate of epoch e: 1e-2, 1e-3, 1e-4
    assert [task for task, _ in seen.values()] == pytest.approx([1e-2, 1e-3, 1e-4])
    assert [mi for _, mi in seen.values()] == pytest.approx([5e-3, 5e-4, 5e-5])
