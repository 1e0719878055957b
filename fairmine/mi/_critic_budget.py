"""How many critic updates ``DonskerVaradhan(steps="auto")`` makes before each encoder step.

The critic's updates are worth making while they are cheap next to the
encoder's own step: on a CNN, forty of them cost less than one pass through
the convolutions; on a small MLP a single update costs about as much as the
encoder's whole step, but fewer than three updates per step let such an
encoder hide the attribute from the critic rather than remove it.
``"auto"`` gives the critic the arithmetic of one encoder forward pass: K is
the number of critic forward passes (joint and marginal rows of one critic
minibatch) that fit into the FLOPs of the encoder's forward pass on one
minibatch, within ``[MIN_AUTO_CRITIC_STEPS, MAX_AUTO_CRITIC_STEPS]``.
Backward passes cost about twice their forward pass on both sides, so the
ratio is also that of the updates. The count is made once per ``fit``, on
two rows, with torch's ``FlopCounterMode``: it depends on the architecture
and batch sizes, never on the machine or its load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["MAX_AUTO_CRITIC_STEPS", "MIN_AUTO_CRITIC_STEPS", "auto_critic_steps", "forward_flops"]

#: the fewest updates ``"auto"`` makes: with fewer, German credit's MLP encoder hid the attribute
#: from its critic instead of removing it (a fresh critic found .063 nats of age in the test z at
#: K = 1, .033 at K = 2, .003 at K = 3, and .018 in ERM's; 10 splits)
MIN_AUTO_CRITIC_STEPS = 3

#: the most updates ``"auto"`` makes: the K of the paper's colored-MNIST experiment
MAX_AUTO_CRITIC_STEPS = 40


def forward_flops(function: Callable[[], Any]) -> int:
    """Count the floating-point operations of matrix products and convolutions in a call.

    Parameters
    ----------
    function : callable
        Called once without arguments and without gradient.

    Returns
    -------
    int
        The FLOPs torch's ``FlopCounterMode`` counts (elementwise operations
        are not counted).
    """
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        function()
    return int(counter.get_total_flops())


def auto_critic_steps(encoder_flops: float, critic_flops: float) -> int:
    """Return K for an encoder step and a critic update of the given forward FLOPs.

    Parameters
    ----------
    encoder_flops : float
        FLOPs of the encoder's (and logit layer's) forward pass on one minibatch.
    critic_flops : float
        FLOPs of the critic's forward pass on one critic minibatch, marginal
        rows included.

    Returns
    -------
    int
        ``floor(encoder_flops / critic_flops)``, within
        ``[MIN_AUTO_CRITIC_STEPS, MAX_AUTO_CRITIC_STEPS]``.
    """
    if critic_flops <= 0:
        return MAX_AUTO_CRITIC_STEPS
    steps = encoder_flops // critic_flops
    return int(min(max(steps, MIN_AUTO_CRITIC_STEPS), MAX_AUTO_CRITIC_STEPS))
