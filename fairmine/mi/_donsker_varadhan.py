"""The paper's penalty: a critic trained by Donsker-Varadhan updates, and its bound.

Lines 5-8 of Algorithm 1 are :meth:`DonskerVaradhan.update` (``steps``
critic updates on detached ``z``, from a representation bank or fresh
minibatches, after a warm-up); the encoder's penalty is the critic's bound on
the current minibatch, with MINE's bias-corrected gradient. The statistics
network on ``[z, c]`` is the paper's critic; ``critic_type="classifier"``
is a classifier ``q(c | z)`` whose DV marginal term is exactly 0
(:class:`fairmine.mi.ClassifierCritic`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import Tensor

from .._devices import cuda_devices
from ._critic import (
    CRITIC_TYPES,
    critic_learning_rate,
    make_critic,
    make_critic_optimizer,
    penalty,
)
from ._critic_budget import auto_critic_steps, forward_flops
from ._critic_loop import CriticTrainer, RepresentationBank
from ._penalty import DependencePenalty, EpochRows, PenaltySetup, Rows

__all__ = ["DonskerVaradhan"]


class DonskerVaradhan(DependencePenalty):
    """MINE's Donsker-Varadhan lower bound on ``I(Z; C)``, from a critic trained alongside.

    The parameters are those of :class:`fairmine.MIUnbiasedClassifier` of
    the same names with ``critic_`` in front; the estimator's ``penalty="donsker_varadhan"``
    (the default) builds this penalty from them.

    Parameters
    ----------
    steps : int or "auto", default="auto"
        Critic updates (K) before each encoder update; ``"auto"`` counts them
        from the FLOPs (:mod:`fairmine.mi._critic_budget`).
    lr : float or "auto", default="auto"
        Learning rate of the critic (:func:`fairmine.mi._critic.critic_learning_rate`).
    optimizer : type of torch.optim.Optimizer, default=torch.optim.Adam
        Optimizer class of the critic.
    critic_type : {"concat", "classifier", "auto"}, default="concat"
        The critic's network (:func:`fairmine.mi.make_critic`).
    hidden : tuple of int, default=(64, 64)
        Hidden layer widths of the critic.
    warmup_steps : int, default=100
        Critic updates before the first encoder update.
    sampling : {"bank", "fresh"}, default="bank"
        Where critic minibatches come from.
    bank_size : int or "auto", default="auto"
        Capacity of the representation bank; ``"auto"`` is the critic batch.
    batch_size : int or None, default=None
        Minibatch size of the critic updates; None takes the net's.
    bias_correction : bool, default=True
        Use a moving average in the gradient of ``log E[exp T]``.
    bias_correction_rate : float, default=0.01
        Rate of that moving average.

    Attributes
    ----------
    critic_ : torch.nn.Module
        The critic.
    marginal_ : DiscreteMarginal or ShuffledMarginal
        Its marginal term.
    """

    _parameter_constraints: ClassVar[dict] = {
        "steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "optimizer": [type],
        "critic_type": [StrOptions(set(CRITIC_TYPES))],
        "hidden": ["array-like"],
        "warmup_steps": [Interval(Integral, 0, None, closed="left")],
        "sampling": [StrOptions({"bank", "fresh"})],
        "bank_size": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "bias_correction": ["boolean"],
        "bias_correction_rate": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        steps: int | str = "auto",
        lr: float | str = "auto",
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        critic_type: str = "concat",
        hidden: Sequence[int] = (64, 64),
        warmup_steps: int = 100,
        sampling: str = "bank",
        bank_size: int | str = "auto",
        batch_size: int | None = None,
        bias_correction: bool = True,
        bias_correction_rate: float = 0.01,
    ) -> None:
        self.steps = steps
        self.lr = lr
        self.optimizer = optimizer
        self.critic_type = critic_type
        self.hidden = hidden
        self.warmup_steps = warmup_steps
        self.sampling = sampling
        self.bank_size = bank_size
        self.batch_size = batch_size
        self.bias_correction = bias_correction
        self.bias_correction_rate = bias_correction_rate

    def initialize(self, setup: PenaltySetup) -> dict[str, Any]:
        super().initialize(setup)
        self.marginal_ = setup.marginal()
        self.critic_ = make_critic(
            self.critic_type,
            self.marginal_,
            setup.embedding_dim,
            setup.c.shape[1],
            tuple(self.hidden),
            setup.n_groups,
        )
        self._probe = setup  # the shapes of the FLOP count in begin_fit
        return {"marginal": self.marginal_, "critic": self.critic_}

    def initialize_optimizers(self) -> dict[str, Any]:
        self.critic_lr_ = critic_learning_rate(self.lr, self.critic_)
        self.critic_optimizer_ = make_critic_optimizer(
            self.optimizer, self.critic_, self.critic_lr_
        )
        return {"critic_lr": self.critic_lr_, "critic_optimizer": self.critic_optimizer_}

    def begin_fit(self, encoder_flops: Callable[[], float], batch_size: int) -> None:
        critic_batch = self.batch_size or batch_size
        self.inner_steps_ = self._steps(encoder_flops, critic_batch)
        self.bank_size_ = 0
        if self.sampling == "bank":
            self.bank_size_ = critic_batch if self.bank_size == "auto" else self.bank_size
        self._trainer = CriticTrainer(
            self.critic_,
            self.critic_optimizer_,
            self.marginal_,
            bank=RepresentationBank(self.bank_size_) if self.bank_size_ else None,
            batch_size=critic_batch,
            bias_correction_rate=self.bias_correction_rate if self.bias_correction else None,
        )

    def begin_epoch(self, rows: EpochRows) -> int:
        trainer = self._trainer
        trainer.fresh = rows.cycle()
        if trainer.warmed_up:
            return 0
        if trainer.bank is not None:  # the initial encoder's z, at most one pass
            trainer.bank.fill(rows.one_pass())
        made = trainer.train(self.warmup_steps)
        trainer.warmed_up = True
        return made

    def update(self, rows: Rows) -> int:
        self._trainer.observe(rows)  # the critic sees the current encoder
        return self._trainer.train(self.inner_steps_)

    def penalty(self, rows: Rows, training: bool = True) -> tuple[Tensor, Tensor]:
        z, c, given, weight = rows
        log_ema = self._trainer.log_ema if training and self.bias_correction else None
        return penalty(self.critic_, self.marginal_, z, c, given, log_ema, weight)

    def end_fit(self) -> None:
        for name in ("_trainer", "_probe"):
            self.__dict__.pop(name, None)

    def advice(self) -> str:
        return f"lower critic_lr (now {self.critic_lr_:g}) or keep bias_correction=True"

    def _steps(self, encoder_flops: Callable[[], float], critic_batch: int) -> int:
        """Return K: ``steps``, or the FLOP count of ``"auto"`` on two rows."""
        if self.steps != "auto":
            return self.steps
        if self.sampling == "fresh":  # each update pays an encoder pass of its own
            return 1
        encoder = encoder_flops()
        setup = self._probe
        device = setup.device
        c = torch.as_tensor(setup.c[:2], dtype=torch.float32, device=device)
        given = None if setup.given is None else torch.as_tensor(setup.given[:2], device=device)
        z = torch.zeros(len(c), setup.embedding_dim, device=device)
        # a shuffled marginal draws a permutation: leave the fit's random stream as it was
        with torch.random.fork_rng(devices=cuda_devices(device)):
            critic = forward_flops(lambda: self.marginal_.terms(self.critic_, z, c, given))
        return auto_critic_steps(encoder, critic / len(c) * critic_batch)
