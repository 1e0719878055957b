"""Table 1 of the paper at its own scale: colored MNIST on all 60,000 MNIST training digits.

    python benchmarks/colored_mnist_table1.py [--variances 0.02 0.025 ... 0.05] [--seeds 3]
        [--other-seeds 1] [--models ERM fairmine ...] [--jobs 2] [--source auto]
        [--out benchmarks/results/colored_mnist_60k] [--table-only]

Fits the models of ``colored_mnist_models()`` (the settings chosen for 60,000 digits,
:data:`fairmine.experiments.COLORED_MNIST_SETTINGS`) with the protocol of ``fairmine reproduce
colored-mnist`` (:func:`fairmine.experiments.run_colored_mnist_protocol`): training digits
coloured ``N(class colour, variance)``, the 10,000 MNIST test digits in random palette colours.
``--seeds`` seeds at variances .020 and .030 and ``--other-seeds`` at the others; the reference
rows (ERM's network on the same digits in random colours and in grey) do not depend on the
variance and are fitted once per seed. Each finished fit is appended to ``OUT_runs.csv`` at once,
and a run keeps the fits already there (same code, same seed: a fit is deterministic), so an
interrupted table resumes where it stopped. Writes ``OUT.txt``: unbiased test accuracy (mean +-
std over seeds) beside the paper's rows, the colour MI a fresh critic finds in the test digits' z
(nats) and the fit seconds (``--jobs`` processes, one torch thread each). The digits come from
``fetch_mnist``'s cache (``python benchmarks/cache_mnist.py`` fills it) unless ``--source``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from _provenance import provenance_lines, write_results
from joblib import Parallel, delayed

from fairmine.cli import format_colored_mnist_table
from fairmine.datasets import fetch_mnist
from fairmine.experiments import (
    COLORED_MNIST_REFERENCES,
    COLORED_MNIST_SETTINGS,
    colored_mnist_models,
    run_colored_mnist_protocol,
)

#: The paper's variances (Table 1) and those with more seeds.
VARIANCES = (0.020, 0.025, 0.030, 0.035, 0.040, 0.045, 0.050)
MAIN_VARIANCES = (0.020, 0.030)


def planned_fits(
    models: list[str], variances: list[float], seeds: int, other_seeds: int
) -> list[tuple[str, float, int]]:
    """The (model, variance, seed) fits of the table.

    A reference row (random or grey training colours) does not depend on the variance: it is
    fitted once per seed, under the smallest variance.
    """
    counts = {v: seeds if round(v, 6) in MAIN_VARIANCES else other_seeds for v in variances}
    biased = [name for name in models if name not in COLORED_MNIST_REFERENCES]
    references = [name for name in models if name in COLORED_MNIST_REFERENCES]
    fits = [(name, v, seed) for v in variances for seed in range(counts[v]) for name in biased]
    fits += [
        (name, min(variances), seed) for seed in range(max(counts.values())) for name in references
    ]
    return fits


def fit_one(name: str, variance: float, seed: int, source: str) -> pd.DataFrame:
    """One fit of the protocol, its row."""
    models = colored_mnist_models()
    return run_colored_mnist_protocol(
        {name: models[name]}, variances=[variance], seeds=[seed], source=source
    )


def spread_references(runs: pd.DataFrame, variances: list[float]) -> pd.DataFrame:
    """Repeat each reference row (fitted once per seed) under every variance of the table."""
    reference = runs["model"].isin(list(COLORED_MNIST_REFERENCES))
    copies = [runs[~reference]]
    for variance in variances:
        copies.append(runs[reference].assign(variance=variance))
    return pd.concat(copies, ignore_index=True).sort_values(
        ["variance", "seed"], kind="stable", ignore_index=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variances", type=float, nargs="+", default=list(VARIANCES))
    parser.add_argument("--seeds", type=int, default=3, help="seeds at .020 and .030 (3)")
    parser.add_argument("--other-seeds", type=int, default=1, help="seeds at the others (1)")
    parser.add_argument("--models", nargs="+", default=list(colored_mnist_models()))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--source", default="auto", help="MNIST; auto: fetch_mnist's cache")
    parser.add_argument("--out", default="benchmarks/results/colored_mnist_60k")
    parser.add_argument("--table-only", action="store_true", help="rewrite OUT.txt, fit nothing")
    args = parser.parse_args()
    provenance_lines()  # the header records the run as it starts
    start = time.perf_counter()
    source = fetch_mnist().path if args.source == "auto" else args.source
    runs_path = Path(f"{args.out}_runs.csv")
    kept = pd.read_csv(runs_path) if runs_path.exists() else pd.DataFrame()
    done = set()
    if len(kept):
        done = set(zip(kept["model"], kept["variance"].round(6), kept["seed"], strict=True))
    todo = [
        fit
        for fit in planned_fits(args.models, args.variances, args.seeds, args.other_seeds)
        if (fit[0], round(fit[1], 6), fit[2]) not in done and not args.table_only
    ]
    print(f"{len(done)} fits kept from {runs_path}, {len(todo)} to run", flush=True)
    rows = [kept]
    finished = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(fit_one)(name, variance, seed, source) for name, variance, seed in todo
    )
    for row in finished:
        rows.append(row)
        runs_path.parent.mkdir(parents=True, exist_ok=True)
        pd.concat(rows, ignore_index=True).to_csv(runs_path, index=False)
        line = row.iloc[0]
        print(
            f"variance {line.variance:.3f} seed {line.seed} {line.model}: unbiased accuracy "
            f"{line.unbiased_accuracy:.3f} (train {line.train_accuracy:.3f}, "
            f"{line.fit_seconds:.0f} s)",
            flush=True,
        )
    runs = pd.concat(rows, ignore_index=True)
    table = format_colored_mnist_table(spread_references(runs, sorted(args.variances)))
    text = (
        f"colored MNIST on all 60,000 MNIST training digits ({source}); fairmine: "
        f"{COLORED_MNIST_SETTINGS}; ERM: the same network with mi_weight=0 and no reweighting; "
        f"{len(runs)} fits, {args.jobs} processes of one torch thread each "
        f"(this call: {time.perf_counter() - start:.0f} s)\n{table}\n"
    )
    print(text)
    write_results(f"{args.out}.txt", text)


if __name__ == "__main__":
    main()
