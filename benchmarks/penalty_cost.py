"""What each dependence penalty costs, as a multiple of ERM's wall time, per gradient clipping.

    python benchmarks/penalty_cost.py [--models german digits] [--repeats 7] [--digits-repeats 3]
        [--penalties ...] [--clips per_tensor representation none] [--threads 1]
        [--digits-epochs 1] [--out DIR] [--quick]

Two networks: the German MLP (``penalties.py``'s settings: split 0 of the paper's 10 splits,
``MIUnbiasedClassifier(max_epochs=30, batch_size=64)``, a full fit) and the digits CNN of the
colored-MNIST protocol (``reference_classifier("colored_mnist", **COLORED_MNIST_QUICK_SETTINGS)``,
``DigitsCNN``, batch 128, on the 4,000 training digits of ``make_colored_mnist(0.020,
random_state=0)``, ``--digits-epochs`` epochs; ERM is ``mi_weight=0``). The digits fits all
take ``bias_reweighting=None``: the protocol's penalised model reweights the rows too (a fixed
cost of cross-fitted logistic regressions before training, the same whatever the penalty),
and this table is about the penalty. Each penalty of ``fairmine.mi.PENALTIES`` is fitted at
the middle weight of its ``penalties.py`` grid on German and at the protocol's ``mi_weight``
(1) on the digits, under each ``clip_mi_gradient`` of ``--clips`` (``mi_update="joint"``);
every fit is seeded with ``random_state=0``.

The fits are interleaved: each round fits ERM and then every configuration once, in the same
order, and ``--repeats`` rounds are made (``--digits-repeats`` on the digits), so that a
machine whose load drifts slows every row alike. The cost of a configuration is the median of
its wall times over the rounds divided by ERM's median at the same thread count (``--threads``;
one process); the same ratio of CPU times (``time.process_time``, which does not count the time
the process waits for a core) is printed next to it. The load average before and after is
recorded: the figures of a shared machine are ratios, not times.

Writes ``penalty_cost.txt`` (the table) and ``penalty_cost.csv`` (every fit's seconds) to
``--out``. ``--quick`` is a smoke run (1 round, 2 German epochs, 1 digits batch's worth).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from _provenance import provenance_lines, write_results
from penalties import WEIGHTS, make_setup, split

from fairmine import MIUnbiasedClassifier
from fairmine.datasets import make_colored_mnist
from fairmine.experiments import COLORED_MNIST_QUICK_SETTINGS, reference_classifier
from fairmine.mi import PENALTIES

#: ``--clips`` names of the ``clip_mi_gradient`` values
CLIPS: dict[str, str | None] = {
    "per_tensor": "per_tensor",
    "representation": "representation",
    "none": None,
}
#: the protocol's variance and seed of the digits the CNN is timed on
DIGITS_VARIANCE, DIGITS_SEED = 0.020, 0

#: a function that fits one configuration, given ``(penalty, clip)`` (None: ERM)
Fitter = Callable[[str | None, str], None]

#: penalties a model cannot take: the classifier critic needs an attribute of at most 32
#: distinct encoded values, and the digits' 24-dim colour code has more
UNSUPPORTED = {"german": set(), "digits": {"classifier_critic"}}


def german_fitter(quick: bool) -> Fitter:
    setup = make_setup("german", None, quick)
    X, _, y, _, c, _ = split(setup, 0)

    def fit(penalty: str | None, clip: str) -> None:
        params: dict[str, Any] = {"mi_weight": 0.0}
        if penalty is not None:
            weights = WEIGHTS[penalty]
            params = {"penalty": penalty, "mi_weight": weights[len(weights) // 2]}
        model = MIUnbiasedClassifier(
            **params, clip_mi_gradient=CLIPS[clip], random_state=0, **setup.net_params
        )
        model.fit(X, y, sensitive_features=c)

    return fit


def digits_fitter(epochs: int, quick: bool) -> Fitter:
    data_params = {"n_train_per_class": 13} if quick else {}
    data = make_colored_mnist(DIGITS_VARIANCE, random_state=DIGITS_SEED, **data_params)

    def fit(penalty: str | None, clip: str) -> None:
        params: dict[str, Any] = {"mi_weight": 0.0} if penalty is None else {"penalty": penalty}
        model = reference_classifier(
            "colored_mnist",
            **{
                **COLORED_MNIST_QUICK_SETTINGS,
                **params,
                "bias_reweighting": None,
                "mi_update": "joint",
                "max_epochs": epochs,
            },
            clip_mi_gradient=CLIPS[clip],
            random_state=DIGITS_SEED,
        )
        model.fit(data.X_train, data.y_train, sensitive_features=data.bias_train)

    return fit


def measure(
    fitters: dict[str, Fitter],
    configs: list[tuple[str | None, str]],
    repeats: dict[str, int],
    threads: list[int],
) -> pd.DataFrame:
    """Seconds of every fit, ERM and the configurations interleaved round by round."""
    rows = []
    for model, fit in fitters.items():
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            fit(None, "per_tensor")  # a first fit warms the caches of both
            supported = [(p, clip) for p, clip in configs if p not in UNSUPPORTED[model]]
            for round_ in range(repeats[model]):
                for penalty, clip in [(None, "per_tensor"), *supported]:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        fit(penalty, clip)
                    seconds = time.perf_counter() - start
                    cpu_seconds = time.process_time() - cpu_start
                    name = "ERM" if penalty is None else penalty
                    rows.append(
                        {
                            "model": model,
                            "threads": n_threads,
                            "round": round_,
                            "penalty": name,
                            "clip": "-" if penalty is None else clip,
                            "seconds": seconds,
                            "cpu_seconds": cpu_seconds,
                        }
                    )
                    print(
                        f"{model} {n_threads}t round {round_} {name:<18} {clip:<15} "
                        f"{seconds:6.2f} s (CPU {cpu_seconds:6.2f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
    torch.set_num_threads(1)
    return pd.DataFrame(rows)


def table(seconds: pd.DataFrame) -> list[str]:
    """Median wall time, its multiple of ERM's and the same multiple of CPU time, per column."""
    medians = seconds.groupby(["model", "threads", "penalty", "clip"], sort=False)[
        ["seconds", "cpu_seconds"]
    ].agg(statistics.median)
    columns = list(dict.fromkeys(zip(seconds["model"], seconds["threads"], strict=True)))
    keys = list(dict.fromkeys(zip(seconds["penalty"], seconds["clip"], strict=True)))
    head = "".join(f"{f'{m}, {t} thread(s): wall (x ERM), CPU x ERM':>46}" for m, t in columns)
    lines = [f"{'penalty':<18}{'clip_mi_gradient':<17}{head}"]
    for penalty, clip in keys:
        cells = ""
        for model, threads in columns:
            erm = medians.loc[(model, threads, "ERM", "-")]
            if (model, threads, penalty, clip) not in medians.index:
                cells += f"{'not supported':>46}"
                continue
            value = medians.loc[(model, threads, penalty, clip)]
            wall, cpu = value.seconds, value.cpu_seconds
            cells += f"{wall:>26.2f} s ({wall / erm.seconds:4.2f}x)   {cpu / erm.cpu_seconds:4.2f}x"
        lines.append(f"{penalty:<18}{clip:<17}{cells}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", choices=("german", "digits"), default=["german", "digits"]
    )
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds, German")
    parser.add_argument("--digits-repeats", type=int, default=3, help="the same, digits")
    parser.add_argument("--penalties", nargs="+", choices=tuple(PENALTIES), default=list(PENALTIES))
    parser.add_argument("--clips", nargs="+", choices=tuple(CLIPS), default=list(CLIPS))
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--digits-epochs", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    provenance_lines()  # the header records the run as it starts
    out = args.out or (
        Path(tempfile.mkdtemp()) if args.quick else Path(__file__).parent / "results"
    )
    repeats = {"german": args.repeats, "digits": args.digits_repeats}
    if args.quick:
        repeats = dict.fromkeys(repeats, 1)
    builders = {
        "german": lambda: german_fitter(args.quick),
        "digits": lambda: digits_fitter(args.digits_epochs, args.quick),
    }
    fitters = {name: builders[name]() for name in args.models}
    configs = [(p, clip) for p in args.penalties for clip in args.clips]
    load_before = os.getloadavg()
    started = time.perf_counter()
    seconds = measure(fitters, configs, repeats, args.threads)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()
    out.mkdir(parents=True, exist_ok=True)
    seconds.to_csv(out / "penalty_cost.csv", index=False)
    load = "/".join(f"{v:.2f}" for v in load_before), "/".join(f"{v:.2f}" for v in load_after)
    header = (
        f"Wall time of a fit, median over {repeats['german']} (German) and "
        f"{repeats['digits']} (digits) interleaved rounds (each round: ERM, then every "
        "configuration once), and its multiple of ERM's median in the same run. German: "
        "the MLP of penalties.py on split 0, a full fit (30 epochs, batch 64), each penalty at "
        "its grid's middle weight. digits: the colored-MNIST protocol's DigitsCNN "
        "(COLORED_MNIST_QUICK_SETTINGS but bias_reweighting=None, batch 128, mi_weight 1) on the "
        f"4,000 training digits of variance {DIGITS_VARIANCE:.3f}, seed {DIGITS_SEED}, "
        f"{args.digits_epochs} epoch(s). "
        "All fits random_state=0, mi_update='joint'; clip_mi_gradient per row; one process. "
        "CPU x ERM: the same ratio of median CPU times (time.process_time). classifier_critic "
        "is not supported on the digits (its attribute has more than 32 distinct values). "
        f"Shared 2-core CPU machine: load average (1/5/15 min) {load[0]} before, {load[1]} "
        f"after; wall time {wall:.0f} s."
    )
    if args.quick:
        header = "QUICK SMOKE RUN (--quick): settings shrunk, not a result. " + header
    text = "\n".join([textwrap.fill(header, 100, subsequent_indent="  "), "", *table(seconds)])
    print(text)
    write_results(out / "penalty_cost.txt", text)


if __name__ == "__main__":
    main()
