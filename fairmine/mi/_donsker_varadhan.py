"""The paper's penalty: a critic trained by Donsker-Varadhan updates, and its bound.

Lines 5-8 of Algorithm 1 are `DonskerVaradhan.update` (``steps``
critic updates on detached ``z``, from a representation bank or fresh
minibatches, after a warm-up); the encoder's penalty is the critic's bound on
the current minibatch, with MINE's bias-corrected gradient. The statistics
network on ``[z, c]`` is the paper's critic; ``critic_type="classifier"``
is a classifier ``q(c | z)`` whose DV marginal term is exactly 0
([`ClassifierCritic`][fairmine.mi.ClassifierCritic]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import Tensor

from .._devices import cuda_devices
from .._mlp import check_layer_widths
from .._validation import OPTIMIZER_CLASS
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

    The estimator's default penalty (``penalty="donsker_varadhan"`` is this
    class with its defaults; ``"classifier_critic"`` is
    ``DonskerVaradhan(critic_type="classifier")``). Pass an object to change
    its settings, ``MIUnbiasedClassifier(penalty=DonskerVaradhan(steps=10))``,
    and search them with nested names such as ``penalty__steps`` (which also
    work on the default name, turning it into the object).

    Parameters
    ----------
    steps : int or "auto", default="auto"
        Critic updates (K) before each update of the encoder and logit layer.
        ``"auto"`` makes as many as the encoder's forward pass pays for: the
        number of critic forward passes (joint and marginal rows of a critic
        minibatch) whose FLOPs fit into those of the encoder's forward pass on
        a minibatch, within [3, 40], counted once per ``fit`` on two rows
        (deterministic, see the estimator's ``critic_steps_``;
        `fairmine.mi._critic_budget`). It gives 40 (the paper's K) on a
        CNN and 3 on a small MLP, where fewer let the encoder hide the
        attribute from the critic; with ``sampling="fresh"`` every update
        costs an encoder pass, so ``"auto"`` is 1 there.
    lr : float or "auto", default="auto"
        Learning rate of the critic. ``"auto"`` is 1e-3 for the ``"concat"``
        network and 3e-3 for the ``"classifier"`` one, which at 1e-3 fell
        behind a German-credit encoder (see
        `critic_learning_rate`).
    optimizer : type of torch.optim.Optimizer, default=torch.optim.Adam
        Optimizer class of the critic. ``torch.optim.Adam`` and ``AdamW`` run
        their fused implementation on the CPU and CUDA (``fused=True``: the
        same update in fewer kernels, a quarter cheaper per critic update on
        a small critic).
    critic_type : {"concat", "classifier", "auto"}, default="concat"
        The critic's network ([`make_critic`][fairmine.mi.make_critic]). ``"concat"``
        is MINE's statistics network ``T(z, c)`` on the concatenation
        ``[z, c]`` (the paper's). ``"classifier"`` is a classifier of the
        attribute from ``z``, one output per attribute value, with
        ``T(z, c) = log q(c | z) - log p(c)``
        ([`ClassifierCritic`][fairmine.mi.ClassifierCritic]): the DV bound's marginal term
        is then exactly 0 and the bound is ``H(C) - cross-entropy``, its
        minibatch gradient is unbiased, and one forward pass scores every
        value, so an update costs about two thirds of the statistics
        network's; it needs an attribute with at most 32 distinct encoded
        values. ``"auto"`` takes ``"classifier"`` for such an attribute and
        ``"concat"`` for others (a continuous colour). The default stays
        ``"concat"``: on German credit (mi_weight 3, 30 fits) the classifier
        left less age information in ``z`` (.012 against .025 nats) at .007
        lower accuracy, but on Adult with ``criterion="demographic_parity"``
        it reached DP .05 where ``"concat"`` reaches .03 (see the results page).
    hidden : tuple of int, default=(64, 64)
        Hidden layer widths of the critic ``T``, positive integers.
    warmup_steps : int, default=100
        Critic updates made before the first encoder update, so that the
        first MI gradients come from a trained critic.
    sampling : {"bank", "fresh"}, default="bank"
        Where the critic's minibatches come from. ``"fresh"`` is Algorithm 1
        as printed: every critic update draws a new minibatch and pushes it
        through the encoder (K extra forward passes per encoder step).
        ``"bank"`` draws from a ring buffer of the ``bank_size`` most recent
        detached ``(z, c)`` pairs that the encoder steps produce anyway, so
        critic updates cost no encoder pass.
    bank_size : int or "auto", default="auto"
        Capacity of that buffer (filled by one no-gradient pass at the start),
        at least the critic's minibatch. ``"auto"`` holds one critic batch
        (see the estimator's ``critic_bank_size_``): with ``batch_size=None``
        the current encoder step's rows, topped up from the step before when
        the criterion keeps fewer (the positive rows of
        ``"equal_opportunity"``), so that the critic trains on what the
        current encoder produces.
    batch_size : int or None, default=None
        Minibatch size of the critic updates; None uses the estimator's
        ``batch_size``. MINE benefits from large critic batches (paper,
        section 4.2), which the bank makes cheap.
    bias_correction : bool, default=True
        Replace the minibatch denominator of the DV gradient by an exponential
        moving average of ``E[exp T]`` (MINE's bias correction).
    bias_correction_rate : float, default=0.01
        Rate of that moving average.

    Attributes
    ----------
    critic_ : torch.nn.Module
        The critic.
    marginal_ : DiscreteMarginal or ShuffledMarginal
        Its marginal term.

    Examples
    --------
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.mi import DonskerVaradhan
    >>> clf = MIUnbiasedClassifier(penalty=DonskerVaradhan(steps=10, warmup_steps=20))
    >>> clf.get_params()["penalty__steps"]
    10
    """

    _parameter_constraints: ClassVar[dict] = {
        "steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "optimizer": [OPTIMIZER_CLASS],
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
        self._check_settings(setup.batch_size)
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
        return (
            f"lower the critic's learning rate (DonskerVaradhan's lr, now {self.critic_lr_:g}) "
            "or keep its bias_correction=True"
        )

    def _check_settings(self, net_batch_size: int) -> None:
        """Refuse critic widths that are not layer widths, and a bank smaller than a batch."""
        check_layer_widths(self.hidden, "DonskerVaradhan's hidden", "the critic's layer widths")
        critic_batch = self.batch_size or net_batch_size
        if self.sampling == "bank" and self.bank_size != "auto" and critic_batch > self.bank_size:
            raise ValueError(
                f"the critic's minibatch ({critic_batch} rows: DonskerVaradhan's batch_size, "
                "or the estimator's batch_size when it is None) is larger than "
                f"DonskerVaradhan's bank_size={self.bank_size}, the rows it is drawn from. "
                "Raise bank_size or lower batch_size."
            )

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
