"""The private skorch net that runs Algorithm 1 of Ragonesi et al.

skorch runs the epochs, batching, train/valid split, callbacks and History;
this subclass only adds the critic and overrides one training step:

1. the encoder's forward pass on the minibatch; with ``critic_sampling="bank"``
   its detached ``(z, c)`` pairs enter the representation bank at once, so the
   critic steps that follow see the current encoder;
2. ``critic_steps`` updates of the statistics network T that maximise the
   Donsker-Varadhan bound on detached ``z`` (Algorithm 1 lines 5-8), drawn from
   the bank or, with ``critic_sampling="fresh"``, from fresh minibatches pushed
   through the encoder;
3. one update of the encoder g and the logit layer f on the task loss plus
   ``mi_weight`` times the MI estimate, with MINE's adaptive gradient clipping
   (lines 9-12).

Which rows and which conditioning the MI uses is the ``mi_criterion``'s
choice (:class:`fairmine.mi.Criterion`); the steps are the same for all.

The sensitive attribute and the sample weights ride inside the dict
``X = {"X": ..., "c": ..., "w": ...}`` so that skorch batches and splits them
together with the inputs. With weights, the task loss, the critic's bound and
the penalty are weighted means over the rows.

Nothing in a step reads a value back from the device (on a GPU such a read
makes the host wait for every queued kernel): the epoch figures accumulate
on the device and are read once per epoch, and so are the batch losses that
skorch would read after every batch (``run_single_epoch``). The rows of
``equal_opportunity`` (a boolean selection, whose size the host must learn)
and sample weights (a check for batches without weight) are the exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import get_len, unpack_data
from skorch.utils import to_device
from torch import Tensor, nn

from .exceptions import TrainingDivergedError
from .mi import Criterion, adaptive_clip_, critic_step, penalty
from .mi._bounds import weighted_mean
from .mi._critic import Marginal

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
        self.counts: dict[str, int] = {}

    def add(self, n: int, **values: Tensor) -> None:
        for key, value in values.items():
            weighted = value.detach() * n
            self.sums[key] = self.sums[key] + weighted if key in self.sums else weighted
            self.counts[key] = self.counts.get(key, 0) + n

    def means(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        counts = torch.tensor([float(self.counts[k]) for k in keys])
        values = (torch.stack([self.sums[k] for k in keys]).cpu() / counts).tolist()
        return dict(zip(keys, values, strict=True))


#: a mean task loss or an MI estimate above this many nats is divergence (a uniform guess
#: costs ln(n_classes) nats, 0.69 for two classes)
DIVERGED_NATS = 100.0


class RepresentationBank:
    """Ring buffer of the most recent detached ``(z, c[, g][, w])`` rows of the encoder steps.

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
        self._stored: list[Tensor] | None = None

    def add(
        self, z: Tensor, c: Tensor, given: Tensor | None = None, weight: Tensor | None = None
    ) -> None:
        """Store a batch of rows (``z`` is detached), their groups and weights (or None)."""
        new = [z.detach(), c, given, weight]
        if self._stored is None:
            self._stored = [
                None if t is None else t.new_empty((self.capacity, *t.shape[1:])) for t in new
            ]
        n = min(len(z), self.capacity)
        rows = (self._position + torch.arange(n, device=z.device)) % self.capacity
        for store, values in zip(self._stored, new, strict=True):
            if store is not None:
                store[rows] = values[-n:]
        self._position = (self._position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """Draw ``n`` stored rows uniformly, with replacement: ``z``, ``c``, groups, weights."""
        if self._stored is None or self.size == 0:
            raise RuntimeError("the representation bank is empty")
        rows = torch.randint(self.size, (n,), device=self._stored[0].device)
        z, c, given, weight = (None if store is None else store[rows] for store in self._stored)
        return z, c, given, weight


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
    mi_criterion : fairmine.mi.Criterion
        Which rows and conditioning the MI is measured on.
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
        Weight of the MI estimate (lambda), > 0 with a critic.
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
        marginal: Marginal | None,
        mi_criterion: Criterion,
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
        self.mi_criterion = mi_criterion
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
            if self.mi_update == "separate":
                self.mi_optimizer_ = self.optimizer(
                    self.module_.encoder_parameters(), lr=self.lr * self.mi_weight
                )
        return self

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
        self._check_diverged()

    def run_single_epoch(
        self, iterator: Any, training: bool, prefix: str, step_fn: Any, **fit_params: Any
    ) -> None:
        """Skorch's epoch loop, with the batch losses read from the device once, at its end.

        skorch records ``loss.item()`` after every batch; here the losses stay
        on the device and fill the batch rows of the history when the loop
        ends, before the ``on_epoch_end`` callbacks that average them run.
        A callback's ``on_batch_end`` therefore finds no ``train_loss`` in the
        current batch row (the step's ``loss`` tensor is passed to it).
        """
        if iterator is None:
            return
        losses = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            size = get_len(batch[0]) if isinstance(batch, tuple | list) else get_len(batch)
            self.history.record_batch(f"{prefix}_batch_size", size)
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if losses:
            rows = self.history[-1]["batches"][-len(losses) :]
            for row, loss in zip(rows, torch.stack(losses).tolist(), strict=True):
                row[f"{prefix}_loss"] = loss
        self.history.record(f"{prefix}_batch_count", len(losses))

    # --------------------------------------------------------------- the steps
    def train_step(self, batch: Any, **fit_params: Any) -> dict[str, Tensor]:
        self._set_training(True)
        x, c, y, weight = self._unpack(batch)
        pre_activation = self.module_.pre_activation(x)
        z = self.module_.activation(pre_activation)
        logits = self.module_.head(z)
        task_loss = self._task_loss(logits, y, weight)
        self._train_stats.add(len(y), task_loss=task_loss)
        if len(z) >= 2:
            self._train_stats.add(len(z), z_active=(z.std(0) > 1e-6).float().mean())
        loss, mi_objective = task_loss, None
        if self.critic is not None:
            z_mi, c_mi, given, w_mi = self.mi_criterion.select(z, c, y, weight)
            if self._bank is not None:
                self._bank.add(z_mi, c_mi, given, w_mi)  # the critic sees the current encoder
            self._train_critic(self.critic_steps)
            if _enough_rows(z_mi, w_mi):
                log_ema = self._log_ema if self.bias_correction else None
                mi, mi_objective = penalty(
                    self.critic_, self.marginal, z_mi, c_mi, given, log_ema, w_mi
                )
                loss = task_loss + self.mi_weight * mi
                self._train_stats.add(len(z_mi), mi=mi)
        self._update(task_loss, pre_activation, mi_objective)
        return {"loss": loss.detach(), "y_pred": logits.detach()}

    def _train_critic(self, steps: int) -> None:
        rate = self.bias_correction_rate if self.bias_correction else None
        for _ in range(steps):
            z, c, given, weight = self._critic_batch()
            if _enough_rows(z, weight):
                self._log_ema = critic_step(
                    self.critic_, self.critic_optimizer_, self.marginal, z, c, given,
                    log_ema=self._log_ema, ema_rate=rate, weight=weight,
                )  # fmt: skip

    def validation_step(self, batch: Any, **fit_params: Any) -> dict[str, Tensor]:
        self._set_training(False)
        x, c, y, weight = self._unpack(batch)
        with torch.no_grad():
            z = self.module_.encode(x)
            logits = self.module_.head(z)
            task_loss = self._task_loss(logits, y, weight)
            acc = (logits.argmax(1) == y).float().mean()
            self._valid_stats.add(len(y), task_loss=task_loss, acc=acc)
            loss = task_loss
            if self.critic is not None:
                z_mi, c_mi, given, w_mi = self.mi_criterion.select(z, c, y, weight)
                if _enough_rows(z_mi, w_mi):
                    mi, _ = penalty(self.critic_, self.marginal, z_mi, c_mi, given, weight=w_mi)
                    self._valid_stats.add(len(z_mi), mi=mi)
                    loss = task_loss + self.mi_weight * mi
        return {"loss": loss, "y_pred": logits}

    def _task_loss(self, logits: Tensor, y: Tensor, weight: Tensor | None) -> Tensor:
        """Cross-entropy, the weighted mean over the rows when there are weights."""
        if weight is None:
            return self.criterion_(logits, y)
        return weighted_mean(nn.functional.cross_entropy(logits, y, reduction="none"), weight)

    def _update(
        self, task_loss: Tensor, pre_activation: Tensor, mi_objective: Tensor | None
    ) -> None:
        """Step the encoder and logit layer on the task loss and the MI objective."""
        if mi_objective is None:
            self.optimizer_.zero_grad(set_to_none=True)
            task_loss.backward()
            self.optimizer_.step()
            return
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

    def _critic_batch(self) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """Draw the rows ``(z, c, given, weight)`` of one critic update."""
        if self._bank is not None:
            return self._bank.sample(self.critic_batch_size)
        return self._encode_batch(next(self._critic_batches))

    def _encode_batch(self, batch: Any) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """Push a batch through the encoder without gradient; keep the criterion's rows."""
        x, c, y, weight = self._unpack(batch)
        with torch.no_grad():
            z = self.module_.encode(x)
        return self.mi_criterion.select(z, c, y, weight)

    def _fill_bank(self, dataset: Any) -> None:
        """Fill the bank with the initial encoder's ``z`` (at most one pass)."""
        for batch in self.get_iterator(dataset, training=True):
            self._bank.add(*self._encode_batch(batch))
            if self._bank.size == self._bank.capacity:
                break

    def representations(self, dataset: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Encode a dataset in eval mode: ``z``, the attribute ``c`` (or None) and ``y``."""
        training = self.module_.training
        self.module_.eval()
        zs, cs, ys = [], [], []
        with torch.no_grad():
            for batch in self.get_iterator(dataset, training=False):
                x, c, y, _ = self._unpack(batch)
                zs.append(self.module_.encode(x).cpu())
                cs.append(None if c is None else c.cpu())
                ys.append(y.cpu())
        self.module_.train(training)
        c_all = None if cs[0] is None else torch.cat(cs).numpy()
        return torch.cat(zs).numpy(), c_all, torch.cat(ys).numpy()

    def _cycle(self, dataset: Any) -> Iterator[Any]:
        while True:
            yield from self.get_iterator(dataset, training=True)

    def _unpack(self, batch: Any) -> tuple[Tensor, Tensor | None, Tensor, Tensor | None]:
        """Return ``x``, the attribute ``c``, ``y`` and the sample weights on the device."""
        Xi, yi = unpack_data(batch)
        parts = Xi if isinstance(Xi, dict) else {"X": Xi}
        x, c, weight = (
            None if parts.get(key) is None else to_device(parts[key], self.device)
            for key in ("X", "c", "w")
        )
        return x, c, to_device(yi, self.device), weight

    def _check_diverged(self) -> None:
        """Stop training when a recorded value became non-finite or diverged in value."""
        row = self.history[-1]
        values = {k: v for k, v in row.items() if isinstance(v, float) and k != "dur"}
        bad = sorted(k for k, v in values.items() if not np.isfinite(v))
        huge = sorted(
            k
            for k, v in values.items()
            if k.endswith(("task_loss", "_mi")) and np.isfinite(v) and abs(v) > DIVERGED_NATS
        )
        if not bad and not huge:
            return
        problems = []
        if bad:
            problems.append(f"{', '.join(bad)} became non-finite")
        if huge:
            sizes = ", ".join(f"{k}={values[k]:.3g}" for k in huge)
            problems.append(f"{sizes} exceeded {DIVERGED_NATS:g} nats")
        what = ", ".join(problems)
        raise TrainingDivergedError(
            f"training diverged at epoch {row['epoch']}: {what}. Scale the inputs (for "
            f"example with StandardScaler), lower lr (now {self.lr:g}) or critic_lr (now "
            f"{self.critic_lr:g}), lower mi_weight (now {self.mi_weight:g}), or keep "
            "clip_mi_gradient on and bias_correction=True."
        )


def _enough_rows(z: Tensor, weight: Tensor | None) -> bool:
    """Whether a minibatch can form the bound: two rows or more, some weight."""
    return len(z) >= 2 and (weight is None or bool(weight.sum() > 0))
