"""The private skorch net that runs Algorithm 1 of Ragonesi et al.

skorch runs the epochs, batching, train/valid split, callbacks and History.
This subclass builds its own parts from the data that ``fit`` receives (the
feature extractor, bottleneck and logit layer; with MI settings the critic
and the marginal term, see ``initialize_module``) and overrides one training
step, which reads like the paper's Algorithm 1:

1. the encoder's forward pass on the minibatch and the task loss;
2. lines 5-8, the penalty's inner update on detached ``z``
   ([`DependencePenalty.update`][fairmine.mi.DependencePenalty.update]: ``steps`` critic
   updates for the paper's Donsker-Varadhan penalty, one likelihood step for
   CLUB, nothing for a closed-form penalty);
3. lines 9-12, one update of the encoder g and the logit layer f on the task
   loss plus ``mi_weight`` times the penalty, with MINE's adaptive gradient
   clipping (`fairmine._engine.gradient_rules`).

Plain ERM is ``mi=None``: no penalty, and the step is the task's alone.
Which rows and which conditioning the MI uses is the ``mi_criterion``'s
choice ([`Criterion`][fairmine.mi.Criterion]); the steps are the same for all.

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

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import get_len, unpack_data
from skorch.utils import TeeGenerator, to_device
from torch import Tensor, nn
from torch.utils.data import Dataset

from .._mlp import MLP
from ..exceptions import TrainingDivergedError
from ..mi import Criterion, DependencePenalty, EpochRows, PenaltySetup
from ..mi._bounds import weighted_mean
from ..mi._critic_budget import forward_flops
from ..mi._penalty import Rows, enough_rows
from .gradient_rules import GRADIENT_RULES, JointUpdate, Objectives, Parameters, SeparateUpdate
from .modules import MIClassifierModule

__all__ = ["MINet", "MISettings"]


@dataclass(frozen=True)
class MISettings:
    """The penalised part of Algorithm 1, under ``MIUnbiasedClassifier``'s parameter names.

    Parameters
    ----------
    mi_weight : float
        Weight lambda of the penalty, > 0.
    penalty : fairmine.mi.DependencePenalty
        The dependence penalty, carrying its own settings (unfitted; the net
        fits a clone).
    mi_update : {"joint", "separate"}
        How the penalty's gradient reaches the encoder.
    clip_mi_gradient : {"per_tensor", "representation"} or None
        Where MINE's adaptive clipping bounds the penalty's gradient.
    """

    mi_weight: float
    penalty: DependencePenalty
    mi_update: str
    clip_mi_gradient: str | None


#: attributes that exist only while ``fit`` runs
_LOOP_STATE = ("_fit_data", "_penalised_update", "_train_stats", "_valid_stats", "_mi_counts")

#: a mean task loss or an MI estimate above this many nats is divergence (a uniform guess
#: costs ln(n_classes) nats, 0.69 for two classes)
DIVERGED_NATS = 100.0


@dataclass(frozen=True)
class _FitData:
    """What the parts are built from: two inputs, the encoded attribute, classes, weights."""

    sample: Tensor | np.ndarray
    c: np.ndarray | None
    y: np.ndarray
    weight: np.ndarray | None


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


class MINet(NeuralNet):
    """skorch ``NeuralNet`` that builds its parts from the data and runs Algorithm 1's step.

    Parameters
    ----------
    module : type, default=MIClassifierModule
        Class of the encoder, bottleneck and logit layer, called as
        ``module(backbone, backbone_features, embedding_dim, n_classes)``.
    backbone : nn.Module or None
        Feature extractor (deep-copied at each initialisation); None builds
        an MLP with ``hidden_units`` on the inputs' feature count.
    hidden_units : sequence of int
        Hidden layer widths of that MLP.
    embedding_dim : int
        Size of the representation ``z``.
    mi_criterion : fairmine.mi.Criterion
        Which rows and conditioning the MI is measured on (the critic's, and
        [`MIAudit`][fairmine.mi.MIAudit]'s).
    mi : MISettings or None
        The penalty and how its gradient reaches the encoder; None trains
        plain ERM, with no penalty at all.
    criterion : type of nn.Module, default=nn.CrossEntropyLoss
        The task loss (skorch's ``criterion``, taking ``criterion__*``
        parameters); it must accept ``reduction="none"``.
    n_outputs : int or None, default=None
        Outputs of the head; None gives one logit per class of ``y``
        (``y`` then holds class indices and the validation accuracy is
        recorded).
    **kwargs
        Passed to ``skorch.NeuralNet``.
    """

    def __init__(
        self,
        module: type[nn.Module] = MIClassifierModule,
        *,
        backbone: nn.Module | None,
        hidden_units: Sequence[int],
        embedding_dim: int,
        mi_criterion: Criterion,
        mi: MISettings | None,
        criterion: type[nn.Module] = nn.CrossEntropyLoss,
        n_outputs: int | None = None,
        **kwargs: Any,
    ) -> None:
        # set before skorch's __init__, which would start tracking the torch backbone
        self.backbone = backbone
        self.hidden_units = hidden_units
        self.embedding_dim = embedding_dim
        self.mi_criterion = mi_criterion
        self.mi = mi
        self.n_outputs = n_outputs
        super().__init__(module, criterion=criterion, **kwargs)

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        X: Any,
        y: np.ndarray,
        *,
        c: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        **fit_params: Any,
    ) -> MINet:
        """Build the parts from the data and train.

        Parameters
        ----------
        X : ndarray or torch Dataset
            Inputs; a Dataset yields ``(input, target)`` pairs.
        y : ndarray
            Class indices ``0 .. n_classes - 1`` of every row (int64), or the
            targets of the ``n_outputs`` outputs (float32).
        c : ndarray of shape (n_samples, d_c) or None, default=None
            The encoded attribute; needed when ``mi`` is set.
        sample_weight : ndarray of shape (n_samples,) or None, default=None
            Weights of the rows; None weighs them alike.
        **fit_params
            Passed to ``skorch.NeuralNet.fit``.

        Returns
        -------
        self : MINet
        """
        if self.mi is not None and c is None:
            raise ValueError("a net with MI settings needs the encoded attribute c")
        sample = _first_inputs(X) if isinstance(X, Dataset) else X[:2]
        self._fit_data = _FitData(sample, c, y, sample_weight)
        try:
            super().fit(*_training_data(X, y, c, sample_weight), **fit_params)
        finally:
            self.__dict__.pop("_fit_data", None)
        if self.__dict__.pop("_interrupted", False):
            # skorch's partial_fit swallows a KeyboardInterrupt and returns a partly trained
            # net: raise it again so that no caller mistakes the net for a finished one
            raise KeyboardInterrupt(f"fit interrupted after {len(self.history)} epoch(s)")
        return self

    def fit_loop(self, X: Any, y: Any = None, **fit_params: Any) -> MINet:
        """Run skorch's loop, remembering an interrupt that is not an ``EarlyStopping`` stop."""
        try:
            return super().fit_loop(X, y, **fit_params)
        except KeyboardInterrupt:
            self._interrupted = not any(
                isinstance(cb, EarlyStopping) and cb.misses_ == cb.patience
                for _, cb in self.callbacks_
            )
            raise

    def initialize_module(self) -> MINet:
        """Build the module, and with MI settings the penalty and its parts (``penalty_``)."""
        data = getattr(self, "_fit_data", None)
        if data is None:
            raise RuntimeError("MINet builds its module from the training data: call fit")
        if self.backbone is None:
            backbone: nn.Module = MLP(data.sample.shape[1], tuple(self.hidden_units))
        else:
            backbone = copy.deepcopy(self.backbone)
        n_classes = int(data.y.max()) + 1 if self.n_outputs is None else self.n_outputs
        self.module_ = self.module(
            backbone, _output_size(backbone, data.sample), self.embedding_dim, n_classes
        )
        if self.mi is not None:
            c, _, given, weight = self.mi_criterion.select(data.c, data.c, data.y, data.weight)
            setup = PenaltySetup(
                c, given, self.mi_criterion.n_groups, weight, self.embedding_dim,
                self.batch_size, self.device,
            )  # fmt: skip
            self.penalty_ = clone(self.mi.penalty)
            for name, part in self.penalty_.initialize(setup).items():
                setattr(self, f"{name}_", part)
        return self

    def initialize_optimizer(self, triggered_directly: Any = None) -> MINet:
        self.optimizer_ = self.optimizer(self.module_.parameters(), lr=self.lr)
        if self.mi is not None:
            for name, part in self.penalty_.initialize_optimizers().items():
                setattr(self, f"{name}_", part)
            if self.mi.mi_update == "separate":
                self.mi_optimizer_ = self.optimizer(
                    self.module_.encoder_parameters(), lr=self.lr * self.mi.mi_weight
                )
        return self

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, net: NeuralNet, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._penalised_update = None
        self.critic_steps_ = self.critic_bank_size_ = 0
        if self.mi is None:
            return
        mi = self.mi
        self.penalty_.begin_fit(self._encoder_flops, self.batch_size)
        self.critic_steps_ = self.penalty_.inner_steps_
        self.critic_bank_size_ = self.penalty_.bank_size_
        rule = GRADIENT_RULES[mi.clip_mi_gradient]
        params = Parameters(
            [p for p in self.module_.encoder_parameters() if p.requires_grad],
            [p for p in self.module_.head.parameters() if p.requires_grad],
        )
        self._penalised_update = (
            JointUpdate(rule, self.optimizer_, mi.mi_weight, params)
            if mi.mi_update == "joint"
            else SeparateUpdate(rule, self.optimizer_, self.mi_optimizer_, mi.mi_weight, params)
        )

    def on_train_end(self, net: NeuralNet, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        super().on_train_end(net, X=X, y=y, **kwargs)
        if self.mi is not None:
            self.penalty_.end_fit()
        # the loop's transient state (a generator among it) must not outlive fit: the
        # fitted net stays small and picklable
        for name in _LOOP_STATE:
            self.__dict__.pop(name, None)

    def on_epoch_begin(self, net: NeuralNet, dataset_train: Any = None, **kwargs: Any) -> None:
        super().on_epoch_begin(net, dataset_train=dataset_train, **kwargs)
        self._train_stats = _EpochAverages()
        self._valid_stats = _EpochAverages()
        self._mi_counts = {"mi_skipped": 0, "critic_updates": 0}
        if self.mi is None:
            return
        self._set_training(True)
        self._mi_counts["critic_updates"] += self.penalty_.begin_epoch(
            EpochRows(
                one_pass=lambda: self._encoded(self.get_iterator(dataset_train, training=True)),
                cycle=lambda: self._encoded(self._cycle(dataset_train)),
            )
        )

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        super().on_epoch_end(net, **kwargs)
        for prefix, stats in (("train", self._train_stats), ("valid", self._valid_stats)):
            for key, value in stats.means().items():
                self.history.record(f"{prefix}_{key}", value)
        if self.mi is not None:  # steps without the penalty, critic updates made
            for key, count in self._mi_counts.items():
                self.history.record(f"train_{key}", count)
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
        """One iteration of Algorithm 1: the penalty's inner update, then the penalised step."""
        self._set_training(True)
        x, c, y, weight = self._unpack(batch)
        pre_activation = self.module_.pre_activation(x)
        z = self.module_.activation(pre_activation)
        logits = self.module_.head(z)
        loss = task_loss = self._task_loss(logits, y, weight)
        self._record_encoder_batch(task_loss, z)
        rows = None if self.mi is None else self.mi_criterion.select(z, c, y, weight)
        if rows is not None:
            self._mi_counts["critic_updates"] += self.penalty_.update(rows)  # lines 5-8
        with self._notifying_grad_computed(batch):
            if rows is None or not enough_rows(rows[0], rows[3]):
                if rows is not None:
                    self._mi_counts["mi_skipped"] += 1
                self._task_step(task_loss)
            else:  # lines 9-12
                mi, mi_objective = self._penalty(rows)
                loss = task_loss + self.mi.mi_weight * mi
                self._penalised_update.step(Objectives(task_loss, mi_objective, pre_activation))
        return {"loss": loss.detach(), "y_pred": logits.detach()}

    @contextmanager
    def _notifying_grad_computed(self, batch: Any) -> Iterator[None]:
        """Notify ``on_grad_computed`` as skorch does: gradients set, before the step.

        It fires when ``optimizer_`` (the encoder's and logit layer's) is about
        to step, with the gradient it applies: the task's plus the weighted,
        clipped MI gradient under ``mi_update="joint"``, the task's under
        ``"separate"`` (whose MI step follows), so that callbacks such as
        skorch's ``GradientNormClipping`` act on it.
        """

        def notify(*_: Any) -> None:
            named = TeeGenerator(self.module_.named_parameters())
            self.notify("on_grad_computed", named_parameters=named, batch=batch, training=True)

        handle = self.optimizer_.register_step_pre_hook(notify)
        try:
            yield
        finally:
            handle.remove()

    def validation_step(self, batch: Any, **fit_params: Any) -> dict[str, Tensor]:
        self._set_training(False)
        x, c, y, weight = self._unpack(batch)
        with torch.no_grad():
            z = self.module_.encode(x)
            logits = self.module_.head(z)
            loss = task_loss = self._task_loss(logits, y, weight)
            self._valid_stats.add(len(y), task_loss=task_loss)
            if self.n_outputs is None:
                self._valid_stats.add(len(y), acc=(logits.argmax(1) == y).float().mean())
            rows = None if self.mi is None else self.mi_criterion.select(z, c, y, weight)
            if rows is not None and enough_rows(rows[0], rows[3]):
                mi, _ = self._penalty(rows, stats=self._valid_stats)
                loss = task_loss + self.mi.mi_weight * mi
        return {"loss": loss, "y_pred": logits}

    def _penalty(self, rows: Rows, stats: _EpochAverages | None = None) -> tuple[Tensor, Tensor]:
        """Return the penalty's value on the rows and the objective the encoder differentiates."""
        mi, objective = self.penalty_.penalty(rows, training=stats is None)
        (self._train_stats if stats is None else stats).add(len(rows[0]), mi=mi)
        return mi, objective

    def _record_encoder_batch(self, task_loss: Tensor, z: Tensor) -> None:
        self._train_stats.add(len(z), task_loss=task_loss)
        if len(z) >= 2:
            self._train_stats.add(len(z), z_active=(z.std(0) > 1e-6).float().mean())

    def _task_step(self, task_loss: Tensor) -> None:
        """Step on the task loss alone: plain ERM, or a minibatch without rows for the MI."""
        self.optimizer_.zero_grad(set_to_none=True)
        task_loss.backward()
        self.optimizer_.step()

    def _task_loss(self, logits: Tensor, y: Tensor, weight: Tensor | None) -> Tensor:
        """Return the task loss, the weighted mean over the rows when there are weights."""
        if weight is None:
            return self.criterion_(logits, y)
        per_row = self.criterion(**{**self.get_params_for("criterion"), "reduction": "none"})
        return weighted_mean(per_row(logits, y).reshape(len(y), -1).mean(1), weight)

    # ----------------------------------------------------------------- helpers
    def _encoder_flops(self) -> float:
        """FLOPs of the encoder's and logit layer's forward pass on one minibatch."""
        sample = to_device(torch.as_tensor(self._fit_data.sample, dtype=torch.float32), self.device)
        with _evaluating(self.module_):
            return forward_flops(lambda: self.module_(sample)) / len(sample) * self.batch_size

    def _encoded(self, batches: Iterable[Any]) -> Iterator[Rows]:
        """Push batches through the encoder without gradient; keep the criterion's rows."""
        for batch in batches:
            x, c, y, weight = self._unpack(batch)
            with torch.no_grad():
                z = self.module_.encode(x)
            yield self.mi_criterion.select(z, c, y, weight)

    def representations(self, dataset: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Encode a dataset in eval mode: ``z``, the attribute ``c`` (or None) and ``y``."""
        zs, cs, ys = [], [], []
        with _evaluating(self.module_), torch.no_grad():
            for batch in self.get_iterator(dataset, training=False):
                x, c, y, _ = self._unpack(batch)
                zs.append(self.module_.encode(x).cpu())
                cs.append(None if c is None else c.cpu())
                ys.append(y.cpu())
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
        # a regression loss is not in nats: only its non-finite values count
        in_nats = ("task_loss", "_mi") if self.n_outputs is None else ("_mi",)
        huge = sorted(
            k
            for k, v in values.items()
            if k.endswith(in_nats) and np.isfinite(v) and abs(v) > DIVERGED_NATS
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
        advice = f"lower lr (now {self.lr:g})"
        if self.mi is not None:
            advice += f" or mi_weight (now {self.mi.mi_weight:g}), or keep clip_mi_gradient on" + (
                f"; {self.penalty_.advice()}" if self.penalty_.advice() else ""
            )
        raise TrainingDivergedError(
            f"training diverged at epoch {row['epoch']}: {what}. Scale the inputs (for "
            f"example with StandardScaler), {advice}."
        )


@contextmanager
def _evaluating(module: nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode for the block, then back in the mode it was in."""
    training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(training)


def _first_inputs(dataset: Dataset) -> torch.Tensor:
    """Stack the inputs of the first two items of a Dataset (for a shape probe)."""
    items = [dataset[i] for i in range(min(2, len(dataset)))]
    if not items or not isinstance(items[0], tuple | list):
        raise ValueError(
            "a Dataset passed as X must yield (input, target) pairs and hold at least one item"
        )
    return torch.stack([torch.as_tensor(item[0]) for item in items])


def _output_size(backbone: nn.Module, sample: torch.Tensor | np.ndarray) -> int:
    """Count the features ``backbone`` outputs per sample, by a dry run in eval mode."""
    inputs = torch.as_tensor(sample, dtype=torch.float32)
    with _evaluating(backbone), torch.no_grad():
        try:
            out = backbone(inputs)
        except RuntimeError as error:  # torch's shape errors ("mat1 and mat2 shapes ...")
            raise ValueError(
                f"backbone cannot take X: on two rows of X (shape {tuple(inputs.shape)}) it "
                f"raised {type(error).__name__}: {str(error).splitlines()[0]}. Make the "
                "backbone's first layer match X's feature count (or image shape), or pass X "
                "in the shape the backbone was built for."
            ) from error
    return int(out[0].numel())


def _training_data(
    X: Any, y: np.ndarray, c: np.ndarray | None, weight: np.ndarray | None
) -> tuple[Any, Any]:
    """Build ``net_.fit``'s input: attribute and weights travel with X, batched with it."""
    if isinstance(X, Dataset):
        return _DatasetWithAttribute(X, y, c, weight), None
    extra = {key: value for key, value in (("c", c), ("w", weight)) if value is not None}
    return ({"X": X, **extra} if extra else X), y


class _DatasetWithAttribute(Dataset):
    """Items ``({"X": input, "c": attribute, "w": weight}, label)``, or ``(input, label)``."""

    def __init__(
        self, dataset: Dataset, y: np.ndarray, c: np.ndarray | None, weight: np.ndarray | None
    ) -> None:
        self.dataset, self.y = dataset, y
        self.extra = {key: value for key, value in (("c", c), ("w", weight)) if value is not None}

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[Any, np.int64]:
        x = self.dataset[index][0]
        if not self.extra:
            return x, self.y[index]
        return {"X": x, **{key: value[index] for key, value in self.extra.items()}}, self.y[index]
