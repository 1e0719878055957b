"""The penalised step of Algorithm 1 (lines 9-12): gradients, clipping and the update.

A *gradient rule* turns the task loss and the MI objective into gradients,
with MINE's adaptive clipping where it applies:

* `PerTensorClipping` (``clip_mi_gradient="per_tensor"``), the
  published rule: the MI gradient of each encoder weight tensor is scaled down
  to at most the norm of that tensor's task gradient. Two backward passes
  through the encoder.
* `RepresentationClipping` (``"representation"``, and ``None`` with
  ``clip=False``): both gradients are taken with respect to ``u``, the
  pre-activation of ``z = relu(u)``, clipped there, and carried through the
  encoder; the joint update needs one backward pass.

An *update* steps the optimisers on them: `JointUpdate` (Algorithm 1
as printed, ``task + mi_weight * clipped MI``) or `SeparateUpdate` (the
reference code: the task step, then a second optimiser with learning rate
``lr * mi_weight`` on the clipped MI gradient).

Either way the MI gradient is clipped first and weighted by ``mi_weight``
after, so the penalty's gradient is at most ``mi_weight`` times the task's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..mi import adaptive_clip_

__all__ = [
    "GRADIENT_RULES",
    "GradientRule",
    "JointUpdate",
    "Objectives",
    "Parameters",
    "PerTensorClipping",
    "RepresentationClipping",
    "SeparateUpdate",
]

Grads = tuple[Tensor, ...]


class Objectives(NamedTuple):
    """What one penalised step differentiates."""

    task: Tensor  #: the task loss
    mi: Tensor  #: the MI objective (the critic's bound, bias-corrected in its gradient)
    pre_activation: Tensor  #: ``u``, with ``z = relu(u)``


class Parameters(NamedTuple):
    """The trainable parameters of the encoder ``g`` and of the logit layer ``f``."""

    encoder: list[nn.Parameter]
    head: list[nn.Parameter]


class GradientRule:
    """Gradients of the encoder and the logit layer for one penalised step."""

    def split(self, losses: Objectives, params: Parameters) -> tuple[Grads, Grads]:
        """Return the task gradients of ``encoder + head``, the clipped MI ones of ``encoder``."""
        raise NotImplementedError

    def combined(self, losses: Objectives, params: Parameters, mi_weight: float) -> Grads:
        """Return the gradients of ``encoder + head``: task plus ``mi_weight`` times clipped MI."""
        task, mi = self.split(losses, params)
        n = len(params.encoder)
        return (*torch._foreach_add(task[:n], mi, alpha=mi_weight), *task[n:])


class PerTensorClipping(GradientRule):
    """MINE's rule as published: clip the MI gradient weight tensor by weight tensor."""

    def split(self, losses: Objectives, params: Parameters) -> tuple[Grads, Grads]:
        encoder = params.encoder
        task = torch.autograd.grad(
            losses.task, [*encoder, *params.head], retain_graph=True, materialize_grads=True
        )
        mi = torch.autograd.grad(losses.mi, encoder, materialize_grads=True)
        adaptive_clip_(mi, task[: len(encoder)])
        return task, mi


@dataclass(frozen=True)
class RepresentationClipping(GradientRule):
    """Combine the gradients at ``z``'s pre-activation ``u``, then backpropagate.

    The gradients with respect to ``u`` cost no encoder pass (one goes
    through the logit layer, the other through the critic). Taken before the
    ReLU, units that it switches off hold no part of either norm.

    Parameters
    ----------
    clip : bool
        Scale the MI gradient at ``u`` down to at most the task gradient's
        norm; False leaves it unclipped (``clip_mi_gradient=None``).
    """

    clip: bool = True

    def _at_representation(
        self, losses: Objectives, head: list[nn.Parameter]
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        task_at_u, *head_grads = torch.autograd.grad(
            losses.task, [losses.pre_activation, *head], retain_graph=True, materialize_grads=True
        )
        (mi_at_u,) = torch.autograd.grad(
            losses.mi, losses.pre_activation, retain_graph=True, materialize_grads=True
        )
        if self.clip:
            adaptive_clip_([mi_at_u], [task_at_u])
        return task_at_u, mi_at_u, head_grads

    def split(self, losses: Objectives, params: Parameters) -> tuple[Grads, Grads]:
        task_at_u, mi_at_u, head_grads = self._at_representation(losses, params.head)
        u, encoder = losses.pre_activation, params.encoder
        encoder_task = torch.autograd.grad(
            u, encoder, task_at_u, retain_graph=True, materialize_grads=True
        )
        encoder_mi = torch.autograd.grad(u, encoder, mi_at_u, materialize_grads=True)
        return (*encoder_task, *head_grads), encoder_mi

    def combined(self, losses: Objectives, params: Parameters, mi_weight: float) -> Grads:
        """One backward pass through the encoder, of the weighted sum at ``u``.

        Unclipped, that sum is the gradient of ``task + mi_weight * mi`` at
        ``u``: one backward pass of the whole graph gives it, with no stop at
        ``u`` (on a small network each extra pass costs as much as a layer).
        """
        if not self.clip:
            return torch.autograd.grad(
                losses.task + mi_weight * losses.mi,
                [*params.encoder, *params.head],
                materialize_grads=True,
            )
        task_at_u, mi_at_u, head_grads = self._at_representation(losses, params.head)
        encoder_grads = torch.autograd.grad(
            losses.pre_activation,
            params.encoder,
            task_at_u + mi_weight * mi_at_u,
            materialize_grads=True,
        )
        return (*encoder_grads, *head_grads)


#: the rule of each ``clip_mi_gradient`` value
GRADIENT_RULES: dict[str | None, GradientRule] = {
    "per_tensor": PerTensorClipping(),
    "representation": RepresentationClipping(clip=True),
    None: RepresentationClipping(clip=False),
}


def _set_grads(params: Sequence[nn.Parameter], grads: Grads) -> None:
    for param, grad in zip(params, grads, strict=True):
        param.grad = grad


@dataclass
class JointUpdate:
    """One optimiser step on ``task gradient + mi_weight * clipped MI gradient``."""

    rule: GradientRule
    optimizer: torch.optim.Optimizer
    mi_weight: float
    params: Parameters

    def step(self, losses: Objectives) -> None:
        """Set the gradients of the encoder and the logit layer and step once."""
        grads = self.rule.combined(losses, self.params, self.mi_weight)
        _set_grads(self.params.encoder + self.params.head, grads)
        self.optimizer.step()


@dataclass
class SeparateUpdate:
    """Step on the task gradient, then ``mi_optimizer`` (lr ``lr * mi_weight``) on the MI one.

    The MI step's learning rate is ``mi_weight`` times the task optimiser's
    current one, read at every step: a learning-rate schedule on the task
    optimiser (skorch's ``LRScheduler``) schedules both.
    """

    rule: GradientRule
    optimizer: torch.optim.Optimizer
    mi_optimizer: torch.optim.Optimizer
    mi_weight: float
    params: Parameters

    def step(self, losses: Objectives) -> None:
        """Step ``optimizer`` on the task gradients, then ``mi_optimizer`` on the MI's."""
        task, mi = self.rule.split(losses, self.params)
        _set_grads(self.params.encoder + self.params.head, task)
        self.optimizer.step()
        _set_grads(self.params.encoder, mi)
        mi_lr = self.optimizer.param_groups[0]["lr"] * self.mi_weight
        for group in self.mi_optimizer.param_groups:
            group["lr"] = mi_lr
        self.mi_optimizer.step()
