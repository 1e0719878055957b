"""The ``fairmine`` command: reproduce the paper's experiments.

Usage::

    fairmine reproduce german [--runs 10] [--mi-weight W] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import pandas as pd
from sklearn.dummy import DummyClassifier

from . import MIUnbiasedClassifier
from .experiments import GERMAN_PAPER_RESULTS, run_german_protocol, summarise_runs

__all__ = ["main"]

#: MI weight of ``fairmine reproduce german`` unless ``--mi-weight`` is given.
GERMAN_MI_WEIGHT = 3.0


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
        type=float,
        default=GERMAN_MI_WEIGHT,
        help=f"fairmine's mi_weight, lambda ({GERMAN_MI_WEIGHT:g})",
    )
    german.add_argument("--seed", type=int, default=0, help="seed of the splits (0)")
    german.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=30,
        help="training epochs of ERM and fairmine (30)",
    )
    german.set_defaults(handler=_reproduce_german)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _reproduce_german(args: argparse.Namespace) -> int:
    def fairmine(run: int, mi_weight: float) -> MIUnbiasedClassifier:
        return MIUnbiasedClassifier(
            mi_weight=mi_weight, max_epochs=args.max_epochs, random_state=run
        )

    models = {
        "constant": lambda run: DummyClassifier(strategy="constant", constant=1),
        "ERM": lambda run: fairmine(run, 0.0),
        "fairmine": lambda run: fairmine(run, args.mi_weight),
    }
    print(
        f"German credit: {args.runs} random 70/30 splits (seed {args.seed}), sensitive "
        f"attribute age < 25; ERM and fairmine (mi_weight={args.mi_weight:g}) train "
        f"{args.max_epochs} epochs.",
        file=sys.stderr,
    )
    start = time.perf_counter()
    results = run_german_protocol(
        models,
        runs=args.runs,
        seed=args.seed,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(f"done in {time.perf_counter() - start:.0f} s\n", file=sys.stderr)
    print(format_german_table(summarise_runs(results)))
    return 0


def format_german_table(summary: pd.DataFrame) -> str:
    """Render measured results beside the paper's published ones.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`fairmine.experiments.summarise_runs`.

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
    lines = [
        f"{'model':<26} {'accuracy':>14} {'EO':>15} {'runs':>7}",
        "-" * 65,
    ]
    for name, row in summary.iterrows():
        lines.append(
            f"{f'{name} (measured)':<26} {row.accuracy:.3f} +- {row.accuracy_std:.3f}   "
            f"{row.eo:.3f} +- {row.eo_std:.3f} {int(row.runs):>7}"
        )
    lines.append("-" * 65)
    for name, (accuracy, eo) in GERMAN_PAPER_RESULTS.items():
        lines.append(f"{f'{name} (paper)':<26} {accuracy:>6.2f}{'':<8}   {eo:>5.2f}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
