"""The training engine, between the estimator's face and the penalties of `fairmine.mi`.

- `.net`: ``MINet``, the skorch net that builds its parts from the data
  and runs Algorithm 1's step, and ``MISettings``, its penalised part;
- `.gradient_rules`: lines 9-12, MINE's adaptive clipping and the
  encoder's update;
- `.modules`: the torch module it trains (encoder g, logit layer f).

The estimator imports ``MINet`` and ``MISettings`` from here; the engine
imports the penalties from [`fairmine.mi`][fairmine.mi] and nothing from the estimator.
"""

from .net import MINet, MISettings

__all__ = ["MINet", "MISettings"]
