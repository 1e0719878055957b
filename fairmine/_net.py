"""The private skorch net that runs Algorithm 1 of Ragonesi et al.

skorch runs the epochs, batching, train/valid split, callbacks and History;
this subclass only adds the critic and overrides one training step:

1. ``critic_steps`` updates of the statistics network T that maximise the
   Donsker-Varadhan bound on detached ``z`` (fresh minibatches, Algorithm 1
   lines 5-8);
2. one update of the encoder g and the logit layer f on the task loss plus
   ``mi_weight`` times the MI estimate, with MINE's adaptive gradient clipping
   (lines 9-12).

The sensitive attribute rides inside the dict ``X = {"X": ..., "c": ...}`` so
that skorch batches and splits it together with the inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_device
from torch import Tensor, nn

from ._mine import (
    DiscreteMarginal,
    ShuffledMarginal,
    adaptive_clip_,
    bias_corrected_log_mean_exp,
    donsker_varadhan,
    log_mean_exp,
    update_log_ema,
)
from .exceptions import TrainingDivergedError

__all__ = ["MINet"]


#: attributes that exist only while ``fit`` runs
_LOOP_STATE = (
    "_log_ema",
    "_warmed_up",
    "_bank",
    "_encoder_params",
    "_head_params",
    "_train_stats",
    "_valid_stats",
    "_critic_batches",
)


class _EpochAverages:
    """Sample-weighted running means of detached tensors, read once per epoch."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.count = 0

    def add(self, n: int, **values: Tensor) -> None:
        for key, value in values.items():
            weighted = value.detach() * n
            self.sums[key] = self.sums[key] + weighted if key in self.sums else weighted
        self.count += n

    def means(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        values = (torch.stack([self.sums[k] for k in keys]) / self.count).tolist()
        return dict(zip(keys, values, strict=True))


class RepresentationBank:
    """Ring buffer of the most recent detached ``(z, c)`` pairs of the encoder steps.

    The critic trains on minibatches drawn from it, so that its updates need
    no forward pass through the encoder of their own.

    Parameters
    ----------
    capacity : int
        Number of pairs kept; the oldest are overwritten first.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._position = 0
        self._z: Tensor | None = None
        self._c: Tensor | None = None

    def add(self, z: Tensor, c: Tensor) -> None:
        """Store a batch of pairs (``z`` is detached)."""
        if self._z is None or self._c is None:
            self._z = z.new_empty((self.capacity, z.shape[1]))
            self._c = c.new_empty((self.capacity, c.shape[1]))
        z, c = z.detach()[-self.capacity :], c[-self.capacity :]
        rows = (self._position + torch.arange(len(z), device=z.device)) % self.capacity
        self._z[rows] = z
        self._c[rows] = c
        self._position = (self._position + len(z)) % self.capacity
        self.size = min(self.size + len(z), self.capacity)

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        """Draw ``n`` stored pairs uniformly, with replacement."""
        if self._z is None or self._c is None or self.size == 0:
            raise RuntimeError("the representation bank is empty")
        rows = torch.randint(self.size, (n,), device=self._z.device)
        return self._z[rows], self._c[rows]


class MINet(NeuralNet):
    """skorch ``NeuralNet`` with a MINE critic and Algorithm 1's training step.

    Parameters
    ----------
    module : MIClassifierModule
        Encoder, bottleneck and logit layer.
    critic : StatisticsNetwork or None
        The statistics network; None trains plain ERM.
    marginal : DiscreteMarginal or ShuffledMarginal or None
        How the product-of-marginals term is formed (None without critic).
    critic_optimizer : type of torch.optim.Optimizer
        Optimizer class of the critic.
    critic_lr : float
        Learning rate of the critic.
    critic_steps : int
        Critic updates before each encoder update (K).
    critic_warmup_steps : int
        Critic updates before the first encoder update.
    critic_sampling : {"bank", "fresh"}
        Where critic minibatches come from: a ``RepresentationBank`` filled by
        the encoder steps, or fresh minibatches pushed through the encoder.
    critic_bank_size : int
        Capacity of the bank.
    critic_batch_size : int
        Minibatch size of the critic updates.
    mi_weight : float
        Weight of the MI estimate (lambda); 0 only monitors MI.
    mi_update : {"separate", "joint"}
        How the MI gradient reaches the encoder, see ``MIUnbiasedClassifier``.
    clip_mi_gradient : {"representation", "per_tensor"} or None
        Where MINE's adaptive clipping bounds the MI gradient, see
        ``MIUnbiasedClassifier``.
    bias_correction : bool
        Use a moving average in the gradient of ``log E[exp T]``.
    bias_correction_rate : float
        Rate of that moving average.
    **kwargs
        Passed to ``skorch.NeuralNet``.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        critic: nn.Module | None,
        marginal: DiscreteMarginal | ShuffledMarginal | None,
        critic_optimizer: type[torch.optim.Optimizer],
        critic_lr: float,
        critic_steps: int,
        critic_warmup_steps: int,
        critic_sampling: str,
        critic_bank_size: int,
        critic_batch_size: int,
        mi_weight: float,
        mi_update: str,
        clip_mi_gradient: str | None,
        bias_correction: bool,
        bias_correction_rate: float,
        **kwargs: Any,
    ) -> None:
        # torch components must be set before skorch's __init__ starts tracking them
        self.critic = critic
        self.marginal = marginal
        self.critic_optimizer = critic_optimizer
        self.critic_lr = critic_lr
        self.critic_steps = critic_steps
        self.critic_warmup_steps = critic_warmup_steps
        self.critic_sampling = critic_sampling
        self.critic_bank_size = critic_bank_size
        self.critic_batch_size = critic_batch_size
        self.mi_weight = mi_weight
        self.mi_update = mi_update
        self.clip_mi_gradient = clip_mi_gradient
        self.bias_correction = bias_correction
        self.bias_correction_rate = bias_correction_rate
        super().__init__(module, criterion=nn.CrossEntropyLoss, **kwargs)

    # ------------------------------------------------------------------ set-up
    def initialize_module(self) -> MINet:
        super().initialize_module()
        if self.critic is not None:
            self.critic_ = self.critic
        return self

    def initialize_optimizer(self, triggered_directly: Any = None) -> MINet:
        self.optimizer_ = self.optimizer(self.module_.parameters(), lr=self.lr)
        if self.critic is not None:
            self.critic_optimizer_ = self.critic_optimizer(
                self.critic_.parameters(), lr=self.critic_lr
            )
            if self.mi_update == "separate" and self.mi_weight > 0:
                self.mi_optimizer_ = self.optimizer(
                    self.module_.encoder_parameters(), lr=self.lr * self.mi_weight
                )
        return self

    @property
    def _penalised(self) -> bool:
        return self.critic is not None and self.mi_weight > 0

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, net: NeuralNet, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._log_ema: Tensor | None = None
        self._warmed_up = False
        self._bank = (
            RepresentationBank(self.critic_bank_size)
            if self.critic is not None and self.critic_sampling == "bank"
            else None
        )
        trainable = [p for p in self.module_.encoder_parameters() if p.requires_grad]
        self._encoder_params = trainable
        self._head_params = [p for p in self.module_.head.parameters() if p.requires_grad]

    def on_train_end(self, net: NeuralNet, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        super().on_train_end(net, X=X, y=y, **kwargs)
        # the loop's transient state (a generator among it) must not outlive fit: the
        # fitted net stays small and picklable
        for name in _LOOP_STATE:
            self.__dict__.pop(name, None)

    def on_epoch_begin(self, net: NeuralNet, dataset_train: Any = None, **kwargs: Any) -> None:
        super().on_epoch_begin(net, dataset_train=dataset_train, **kwargs)
        self._train_stats = _EpochAverages()
        self._valid_stats = _EpochAverages()
        if self.critic is not None:
            self._critic_batches = self._cycle(dataset_train)
            if not self._warmed_up:
                self._set_training(True)
                if self._bank is not None:
                    self._fill_bank(dataset_train)
                self._train_critic(self.critic_warmup_steps)
                self._warmed_up = True

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        super().on_epoch_end(net, **kwargs)
        for prefix, stats in (("train", self._train_stats), ("valid", self._valid_stats)):
            for key, value in stats.means().items():
                self.history.record(f"{prefix}_{key}", value)
        self._check_finite()

    # --------------------------------------------------------------- the steps
    def train_step(self, batch: Any, **fit_params: Any) -> dict[str, Tensor]:
        self._set_training(True)
        x, c, y = self._unpack(batch)
        if self.critic is not None:
            self._train_critic(self.critic_steps)
        return self._model_step(x, c, y)

    def _train_critic(self, steps: int) -> None:
        for _ in range(steps):
            self._critic_step(*self._critic_batch())

    def validation_step(self, batch: Any, **fit_params: Any) -> dict[str, Tensor]:
        self._set_training(False)
        x, c, y = self._unpack(batch)
        with torch.no_grad():
            z = self.module_.encode(x)
            logits = self.module_.head(z)
            task_loss = self.criterion_(logits, y)
            stats = {"task_loss": task_loss, "acc": (logits.argmax(1) == y).float().mean()}
            loss = task_loss
            if self.critic is not None:
                stats["mi"] = donsker_varadhan(*self._critic_pairs(z, c))
                loss = task_loss + self.mi_weight * stats["mi"]
        self._valid_stats.add(len(y), **stats)
        return {"loss": loss, "y_pred": logits}

    def _critic_step(self, z: Tensor, c: Tensor) -> None:
        t_joint, t_marginal = self._critic_pairs(z, c)
        if self.bias_correction:
            self._log_ema = update_log_ema(
                self._log_ema, log_mean_exp(t_marginal), self.bias_correction_rate
            )
            lme = bias_corrected_log_mean_exp(t_marginal, self._log_ema)
        else:
            lme = log_mean_exp(t_marginal)
        loss = lme - t_joint.mean()
        self.critic_optimizer_.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optimizer_.step()

    def _model_step(self, x: Tensor, c: Tensor | None, y: Tensor) -> dict[str, Tensor]:
        pre_activation = self.module_.pre_activation(x)
        z = self.module_.activation(pre_activation)
        logits = self.module_.head(z)
        task_loss = self.criterion_(logits, y)
        stats = {"task_loss": task_loss, "z_active": (z.std(0) > 1e-6).float().mean()}
        if self.critic is None:
            self.optimizer_.zero_grad(set_to_none=True)
            task_loss.backward()
            self.optimizer_.step()
            self._train_stats.add(len(y), **stats)
            return {"loss": task_loss.detach(), "y_pred": logits.detach()}

        if self._bank is not None:
            self._bank.add(z, c)
        t_joint, t_marginal = self._critic_pairs(z, c)
        mi = donsker_varadhan(t_joint, t_marginal)
        stats["mi"] = mi
        if self._penalised:
            self._penalised_update(task_loss, pre_activation, t_joint, t_marginal)
        else:
            self.optimizer_.zero_grad(set_to_none=True)
            task_loss.backward()
            self.optimizer_.step()
        loss = task_loss + self.mi_weight * mi
        self._train_stats.add(len(y), **stats)
        return {"loss": loss.detach(), "y_pred": logits.detach()}

    def _penalised_update(
        self, task_loss: Tensor, pre_activation: Tensor, t_joint: Tensor, t_marginal: Tensor
    ) -> None:
        if self.bias_correction and self._log_ema is not None:
            lme = bias_corrected_log_mean_exp(t_marginal, self._log_ema)
        else:
            lme = log_mean_exp(t_marginal)
        mi_objective = t_joint.mean() - lme
        if self.clip_mi_gradient == "per_tensor":
            task_grads, mi_grads = self._parameter_gradients(task_loss, mi_objective)
        else:
            task_grads, mi_grads = self._representation_gradients(
                task_loss, mi_objective, pre_activation
            )
        self._set_grads(self._encoder_params + self._head_params, task_grads)
        self.optimizer_.step()
        if mi_grads is not None:  # the separate update
            self._set_grads(self._encoder_params, mi_grads)
            self.mi_optimizer_.step()

    def _parameter_gradients(
        self, task_loss: Tensor, mi_objective: Tensor
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...] | None]:
        """Parameter gradients with the MI part clipped per weight tensor.

        MINE's rule as published; it takes two backward passes through the
        encoder. Returns the gradients to step ``optimizer_`` on and, for the
        separate update only, the encoder's MI gradients (else None).
        """
        encoder, head = self._encoder_params, self._head_params
        task_grads = torch.autograd.grad(
            task_loss, encoder + head, retain_graph=True, materialize_grads=True
        )
        mi_grads = torch.autograd.grad(mi_objective, encoder, materialize_grads=True)
        adaptive_clip_(mi_grads, task_grads[: len(encoder)])
        if self.mi_update == "separate":
            return task_grads, mi_grads
        combined = torch._foreach_add(task_grads[: len(encoder)], mi_grads, alpha=self.mi_weight)
        return (*combined, *task_grads[len(encoder) :]), None

    def _representation_gradients(
        self, task_loss: Tensor, mi_objective: Tensor, pre_activation: Tensor
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...] | None]:
        """Combine the two losses' gradients at ``z``'s pre-activation, then backpropagate once.

        The gradients with respect to the bottleneck's output before its ReLU
        cost no encoder pass (one goes through the logit layer, the other
        through the critic); with ``clip_mi_gradient="representation"`` the MI
        part is scaled down to at most the task part's norm. Taken before the
        ReLU, units that the ReLU switches off hold no part of either norm.
        For the joint update the weighted sum goes through the encoder in one
        backward pass, so the penalty costs no second one. Returns what
        ``_parameter_gradients`` returns.
        """
        encoder, head = self._encoder_params, self._head_params
        task_at_u, *head_grads = torch.autograd.grad(
            task_loss, [pre_activation, *head], retain_graph=True, materialize_grads=True
        )
        (mi_at_u,) = torch.autograd.grad(
            mi_objective, pre_activation, retain_graph=True, materialize_grads=True
        )
        if self.clip_mi_gradient == "representation":
            adaptive_clip_([mi_at_u], [task_at_u])
        if self.mi_update == "joint":
            encoder_grads = torch.autograd.grad(
                pre_activation,
                encoder,
                task_at_u + self.mi_weight * mi_at_u,
                materialize_grads=True,
            )
            return (*encoder_grads, *head_grads), None
        encoder_task = torch.autograd.grad(
            pre_activation, encoder, task_at_u, retain_graph=True, materialize_grads=True
        )
        encoder_mi = torch.autograd.grad(pre_activation, encoder, mi_at_u, materialize_grads=True)
        return (*encoder_task, *head_grads), encoder_mi

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _set_grads(params: list[nn.Parameter], grads: Any) -> None:
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad

    def _critic_pairs(self, z: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """Critic outputs on joint pairs and on pairs from the product of marginals."""
        return self.marginal.pairs(self.critic_, z, c)

    def _critic_batch(self) -> tuple[Tensor, Tensor]:
        """Draw a minibatch of ``(z, c)`` for one critic update."""
        if self._bank is not None:
            return self._bank.sample(self.critic_batch_size)
        return self._encode_batch(next(self._critic_batches))

    def _encode_batch(self, batch: Any) -> tuple[Tensor, Tensor]:
        """Push a batch through the encoder without gradient."""
        x, c, _ = self._unpack(batch)
        with torch.no_grad():
            z = self.module_.encode(x)
        return z, c

    def _fill_bank(self, dataset: Any) -> None:
        """Fill the bank with the initial encoder's ``z`` (at most one pass)."""
        for batch in self.get_iterator(dataset, training=True):
            self._bank.add(*self._encode_batch(batch))
            if self._bank.size == self._bank.capacity:
                break

    def _cycle(self, dataset: Any) -> Iterator[Any]:
        while True:
            yield from self.get_iterator(dataset, training=True)

    def _unpack(self, batch: Any) -> tuple[Tensor, Tensor | None, Tensor]:
        Xi, yi = unpack_data(batch)
        if isinstance(Xi, dict):
            x, c = Xi["X"], Xi["c"]
        else:
            x, c = Xi, None
        x, y = to_device(x, self.device), to_device(yi, self.device)
        return x, (None if c is None else to_device(c, self.device)), y

    def _check_finite(self) -> None:
        row = self.history[-1]
        bad = sorted(
            key
            for key, value in row.items()
            if isinstance(value, float) and not torch.isfinite(torch.tensor(value))
        )
        if bad:
            raise TrainingDivergedError(
                f"training diverged at epoch {row['epoch']}: {', '.join(bad)} became "
                f"non-finite. Lower critic_lr (now {self.critic_lr:g}) or lr "
                f"(now {self.lr:g}), lower mi_weight (now {self.mi_weight:g}), or keep "
                "clip_mi_gradient on and bias_correction=True."
            )
