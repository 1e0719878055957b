"""Training reads nothing back from the device per step (issue 15, the GPU path).

On a GPU, every read of a tensor's value by the host (``.item()``, ``.tolist()``, ``.cpu()``,
``.numpy()``, ``bool``/``float``/``int`` of a tensor) waits for all queued kernels. CI has no
GPU, so this CPU test counts those calls during ``fit``'s training loop: with four times as
many batches per epoch the count must stay the same (reads per epoch, none per step).
Reads made by torch's optimizers are not counted: they keep their step count as a CPU tensor
on every device (unless ``capturable``), so reading it makes no device wait.
"""

import os
import sys

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit

from fairmine import MIUnbiasedClassifier
from fairmine._engine import MINet
from fairmine.mi import DonskerVaradhan

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


@pytest.fixture
def count_reads(monkeypatch):
    """Count the host reads of tensors made inside ``MINet.fit_loop``."""
    counts = {"reads": 0, "active": False}
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if counts["active"] and f"torch{os.sep}optim" not in caller:
                counts["reads"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    fit_loop = MINet.fit_loop

    def counted_fit_loop(self, *args, **kwargs):
        counts["active"] = True
        try:
            return fit_loop(self, *args, **kwargs)
        finally:
            counts["active"] = False

    monkeypatch.setattr(MINet, "fit_loop", counted_fit_loop)
    return counts


def _reads_during_fit(counts, batch_size, **params):
    rng = np.random.RandomState(0)
    group = rng.randint(0, 2, 256)
    X = np.c_[rng.normal(size=(256, 3)), group].astype(np.float32)
    y = (X[:, 0] + group > 0.5).astype(int)
    counts["reads"] = 0
    params = {"penalty": DonskerVaradhan(steps=2, warmup_steps=3), **params}
    MIUnbiasedClassifier(
        max_epochs=2, batch_size=batch_size, random_state=0, **params
    ).fit(X, y, sensitive_features=group)  # fmt: skip
    return counts["reads"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"mi_weight": 0.0},
        {"criterion": "equalized_odds"},
        {"penalty": DonskerVaradhan(steps=2, warmup_steps=3, sampling="fresh")},
        {"clip_mi_gradient": "representation", "mi_update": "separate"},
        {"train_split": ValidSplit(4)},
    ],
    ids=["default", "erm", "equalized_odds", "fresh", "representation-separate", "validation"],
)
def test_no_host_read_per_step(count_reads, params):
    few = _reads_during_fit(count_reads, batch_size=64, **params)  # 4 steps an epoch
    many = _reads_during_fit(count_reads, batch_size=16, **params)  # 16 steps an epoch
    assert few == many
    # a handful per epoch: the epoch figures, and the seed each pass of a DataLoader draws
    assert few <= 20 * 2


def test_the_counter_sees_per_step_reads(count_reads, monkeypatch):
    """The counter works: skorch's own loop, which reads loss.item() per batch, is caught."""
    from skorch import NeuralNet

    monkeypatch.setattr(MINet, "run_single_epoch", NeuralNet.run_single_epoch)
    few = _reads_during_fit(count_reads, batch_size=64)
    many = _reads_during_fit(count_reads, batch_size=16)
    assert many - few == 2 * (16 - 4)  # one read per extra step, over 2 epochs


def test_batch_losses_are_recorded_as_skorch_does():
    rng = np.random.RandomState(0)
    X, group = rng.normal(size=(100, 3)).astype(np.float32), rng.randint(0, 2, 100)
    clf = MIUnbiasedClassifier(max_epochs=2, batch_size=30, random_state=0)
    clf.fit(X, X[:, 0] > 0, sensitive_features=group)
    for epoch in clf.history_:
        losses = [batch["train_loss"] for batch in epoch["batches"]]
        sizes = [batch["train_batch_size"] for batch in epoch["batches"]]
        assert sizes == [30, 30, 30, 10] and all(isinstance(v, float) for v in losses)
        assert epoch["train_loss"] == pytest.approx(np.average(losses, weights=sizes))
        assert epoch["train_batch_count"] == 4
