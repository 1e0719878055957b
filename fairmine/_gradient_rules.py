"""The penalised step of Algorithm 1 (lines 9-12): gradients, clipping and the update.

A *gradient rule* turns the task loss and the MI objective into gradients,
with MINE's adaptive clipping where it applies:

* :class:`PerTensorClipping` (``clip_mi_gradient="per_tensor"``), the
  published rule: the MI gradient of each encoder weight tensor is scaled down
  to at most the norm of that tensor's task gradient. Two backward passes
  through the encoder.
* :class:`RepresentationClipping` (``"representation"``, and ``None`` with
  ``clip=False``): both gradients are taken with respect to ``u``, the
  pre-activation of ``z = relu(u)``, clipped there, and carried through the
  encoder; the joint update needs one backward pass.

An *update* steps the optimisers on them: :class:`JointUpdate` (Algorithm 1
as printed, ``task + mi_weight * clipped MI``) or :class:`SeparateUpdate` (the
reference code: the task step, then a second optimiser with learning rate
``lr * mi_weight`` on the clipped MI gradient).

Either way the MI gradient is clipped first and weighted by ``mi_weight``
after, so the penalty's gradient is at most ``mi_weight`` times the task's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .mi import adaptive_clip_

__all__ = [
    "GRADIENT_RULES",
    "GradientRule",
    "JointUpdate",
    "PerTensorClipping",
    "RepresentationClipping",
    "SeparateUpdate",
]

Grads = tuple[Tensor, ...]


class GradientRule:
    """Gradients of the encoder ``g`` and the logit layer ``f`` for one penalised step."""

    def split(
        self,
        task_loss: Tensor,
        mi_objective: Tensor,
        pre_activation: Tensor,
        encoder: Sequence[nn.Parameter],
        head: Sequence[nn.Parameter],
    ) -> tuple[Grads, Grads]:
        """Return the task gradients of ``encoder + head``, the clipped MI ones of ``encoder``."""
        raise NotImplementedError

    def combined(
        self,
        task_loss: Tensor,
        mi_objective: Tensor,
        pre_activation: Tensor,
        encoder: Sequence[nn.Parameter],
        head: Sequence[nn.Parameter],
        mi_weight: float,
    ) -> Grads:
        """Return the gradients of ``encoder + head``: task plus ``mi_weight`` times clipped MI."""
        task, mi = self.split(task_loss, mi_objective, pre_activation, encoder, head)
        n = len(encoder)
        return (*torch._foreach_add(task[:n], mi, alpha=mi_weight), *task[n:])


class PerTensorClipping(GradientRule):
    """MINE's rule as published: clip the MI gradient weight tensor by weight tensor."""

    def split(self, task_loss, mi_objective, pre_activation, encoder, head):
        task = torch.autograd.grad(
            task_loss, [*encoder, *head], retain_graph=True, materialize_grads=True
        )
        mi = torch.autograd.grad(mi_objective, encoder, materialize_grads=True)
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
        self, task_loss: Tensor, mi_objective: Tensor, u: Tensor, head: Sequence[nn.Parameter]
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        task_at_u, *head_grads = torch.autograd.grad(
            task_loss, [u, *head], retain_graph=True, materialize_grads=True
        )
        (mi_at_u,) = torch.autograd.grad(mi_objective, u, retain_graph=True, materialize_grads=True)
        if self.clip:
            adaptive_clip_([mi_at_u], [task_at_u])
        return task_at_u, mi_at_u, head_grads

    def split(self, task_loss, mi_objective, pre_activation, encoder, head):
        task_at_u, mi_at_u, head_grads = self._at_representation(
            task_loss, mi_objective, pre_activation, head
        )
        encoder_task = torch.autograd.grad(
            pre_activation, encoder, task_at_u, retain_graph=True, materialize_grads=True
        )
        encoder_mi = torch.autograd.grad(pre_activation, encoder, mi_at_u, materialize_grads=True)
        return (*encoder_task, *head_grads), encoder_mi

    def combined(self, task_loss, mi_objective, pre_activation, encoder, head, mi_weight):
        """One backward pass through the encoder, of the weighted sum at ``u``."""
        task_at_u, mi_at_u, head_grads = self._at_representation(
            task_loss, mi_objective, pre_activation, head
        )
        encoder_grads = torch.autograd.grad(
            pre_activation, encoder, task_at_u + mi_weight * mi_at_u, materialize_grads=True
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
    encoder: list[nn.Parameter]
    head: list[nn.Parameter]

    def step(self, task_loss: Tensor, mi_objective: Tensor, pre_activation: Tensor) -> None:
        """Set the gradients of the encoder and the logit layer and step once."""
        grads = self.rule.combined(
            task_loss, mi_objective, pre_activation, self.encoder, self.head, self.mi_weight
        )
        _set_grads(self.encoder + self.head, grads)
        self.optimizer.step()


@dataclass
class SeparateUpdate:
    """Step on the task gradient, then ``mi_optimizer`` (lr ``lr * mi_weight``) on the MI one."""

    rule: GradientRule
    optimizer: torch.optim.Optimizer
    mi_optimizer: torch.optim.Optimizer
    encoder: list[nn.Parameter]
    head: list[nn.Parameter]

    def step(self, task_loss: Tensor, mi_objective: Tensor, pre_activation: Tensor) -> None:
        """Step ``optimizer`` on the task gradients, then ``mi_optimizer`` on the MI's."""
        task, mi = self.rule.split(task_loss, mi_objective, pre_activation, self.encoder, self.head)
        _set_grads(self.encoder + self.head, task)
        self.optimizer.step()
        _set_grads(self.encoder, mi)
        self.mi_optimizer.step()
