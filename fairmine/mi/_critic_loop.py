"""Lines 5-8 of Algorithm 1: K updates of the critic ``T`` on detached ``z``.

The critic's minibatches come from a `RepresentationBank` of the
encoder's recent rows (``DonskerVaradhan(sampling="bank")``: no encoder pass of their
own) or from fresh minibatches pushed through the encoder (``"fresh"``, as
printed). Each update is [`critic_step`][fairmine.mi.critic_step], the same rule that
[`estimate_mi`][fairmine.mi.estimate_mi] trains with.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn

from ._critic import Marginal, critic_step
from ._penalty import Rows, enough_rows

__all__ = ["CriticTrainer", "RepresentationBank"]


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
        self._stored: list[Tensor | None] | None = None

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

    def fill(self, batches: Iterable[Rows]) -> None:
        """Add batches of rows until the bank is full or they run out."""
        for rows in batches:
            self.add(*rows)
            if self.size == self.capacity:
                break

    def sample(self, n: int) -> Rows:
        """Draw ``n`` stored rows uniformly, with replacement: ``z``, ``c``, groups, weights."""
        if self._stored is None or self.size == 0:
            raise RuntimeError("the representation bank is empty")
        z, c, given, weight = self._stored
        rows = torch.randint(self.size, (n,), device=z.device)
        return (
            z[rows],
            c[rows],
            None if given is None else given[rows],
            None if weight is None else weight[rows],
        )


class CriticTrainer:
    """The critic's updates during one ``fit``, and the state they carry between steps.

    Parameters
    ----------
    critic : StatisticsNetwork
        The statistics network ``T``.
    optimizer : torch.optim.Optimizer
        Its optimiser.
    marginal : DiscreteMarginal or ShuffledMarginal
        The product-of-marginals term.
    bank : RepresentationBank or None
        Where the minibatches come from; None draws them from ``fresh``.
    batch_size : int
        Rows per update drawn from the bank.
    bias_correction_rate : float or None
        Rate of MINE's moving average of ``E[exp T]``; None does not correct.

    Attributes
    ----------
    fresh : iterator of Rows or None
        The encoder's rows of fresh minibatches (``sampling="fresh"``).
    log_ema : Tensor or None
        The moving average (log space) that the penalty's gradient uses.
    warmed_up : bool
        Whether the warm-up updates before the first encoder step were made.
    """

    def __init__(
        self,
        critic: nn.Module,
        optimizer: torch.optim.Optimizer,
        marginal: Marginal,
        *,
        bank: RepresentationBank | None,
        batch_size: int,
        bias_correction_rate: float | None,
    ) -> None:
        self.critic = critic
        self.optimizer = optimizer
        self.marginal = marginal
        self.bank = bank
        self.batch_size = batch_size
        self.bias_correction_rate = bias_correction_rate
        self.fresh: Iterator[Rows] | None = None
        self.log_ema: Tensor | None = None
        self.warmed_up = False

    def observe(self, rows: Rows) -> None:
        """Show the current encoder's rows to the critic (they enter the bank)."""
        if self.bank is not None:
            self.bank.add(*rows)

    def train(self, steps: int) -> int:
        """Try ``steps`` updates that raise the Donsker-Varadhan bound; return how many were made.

        A minibatch too small for the bound (`enough_rows`) is skipped.
        """
        made = 0
        for _ in range(steps):
            z, c, given, weight = (
                self.bank.sample(self.batch_size) if self.bank is not None else next(self.fresh)
            )
            if enough_rows(z, weight):
                self.log_ema = critic_step(
                    self.critic, self.optimizer, self.marginal, z, c, given,
                    log_ema=self.log_ema, ema_rate=self.bias_correction_rate, weight=weight,
                )  # fmt: skip
                made += 1
        return made
