"""Digits per second of ERM and fairmine on the colored-MNIST CNN, here and at an earlier commit.

    python benchmarks/colored_mnist_speed.py [--ref 2d17c38] [--digits 12800] [--rounds 3]
        [--threads 2] [--source auto] [--out benchmarks/results/colored_mnist_speed.txt]

Each round times, in a fresh process per commit (the working tree, and ``--ref`` checked out in
a temporary ``git worktree``), the commits taking turns so that a loaded machine slows both
alike: ``bias_reweighting``'s weights on all 60,000 training digits (variance .020, seed 0), and
one epoch of ERM and of fairmine on the first ``--digits`` of them (the 60k settings: batch 128,
Adam 1e-3, the separate update, the Donsker-Varadhan critic of the reference code with
``steps="auto"`` on a bank; fairmine without reweighting so that the epoch alone is timed), at
``--threads`` torch threads. Reports the median over rounds and the ratio of the two commits,
and how far the two commits' predicted probabilities on 1,000 test digits are apart (the same
fits up to float rounding, or not).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _provenance import ROOT, provenance_lines, write_results

#: What each process measures; it must run against the fairmine of either commit.
CHILD = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
from fairmine._bias_weights import independence_weights
from fairmine.datasets import make_colored_mnist
from fairmine.experiments import reference_classifier
data = make_colored_mnist(0.02, random_state=0, source=sys.argv[1])
n = int(sys.argv[3])
start = time.perf_counter()
independence_weights(data.y_train, data.bias_train)
out = {"weights_s": time.perf_counter() - start}
settings = {"lr": 1e-3, "max_epochs": 1, "batch_size": 128, "mi_update": "separate",
            "penalty__steps": "auto", "penalty__sampling": "bank", "penalty__bank_size": "auto",
            "bias_reweighting": None, "random_state": 0}
for name, weight in (("ERM", 0.0), ("fairmine", 1.0)):
    clf = reference_classifier("colored_mnist", **settings, mi_weight=weight)
    start = time.perf_counter()
    clf.fit(data.X_train[:n], data.y_train[:n], sensitive_features=data.bias_train[:n])
    out[f"{name}_s"] = time.perf_counter() - start
    out[f"{name}_proba"] = clf.predict_proba(data.X_test[:1000]).tolist()
print(json.dumps(out))
"""


def measure(tree: Path, source: str, threads: int, digits: int) -> dict:
    """Run the measurement in a fresh process against the fairmine in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, source, str(threads), str(digits)],
        cwd=tree, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="2d17c38", help="the earlier commit")
    parser.add_argument("--digits", type=int, default=12800)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--source", default="auto", help="MNIST; auto: fetch_mnist's cache")
    parser.add_argument("--out", default="benchmarks/results/colored_mnist_speed.txt")
    args = parser.parse_args()
    provenance_lines()
    from fairmine.datasets import fetch_mnist

    source = fetch_mnist().path if args.source == "auto" else args.source
    results: dict[str, list[dict]] = {args.ref: [], "HEAD": []}
    with tempfile.TemporaryDirectory() as folder:
        earlier = Path(folder) / "ref"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(earlier), args.ref],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        try:
            for round_ in range(args.rounds):
                for name, tree in ((args.ref, earlier), ("HEAD", ROOT)):
                    results[name].append(measure(tree, source, args.threads, args.digits))
                    print(f"round {round_ + 1} {name}: {_brief(results[name][-1])}", flush=True)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(earlier)], cwd=ROOT, check=False
            )
    lines = [
        f"colored-MNIST CNN, {args.threads} torch thread(s), one epoch on {args.digits} digits "
        f"(batch 128), medians of {args.rounds} interleaved rounds; HEAD is the working tree",
        f"{'what':<34}{args.ref:>12}{'HEAD':>12}{'HEAD / ref':>12}",
    ]
    for key, label, per_second in (
        ("weights_s", "bias weights on 60,000 digits (s)", False),
        ("ERM_s", "ERM (digits/s)", True),
        ("fairmine_s", "fairmine (digits/s)", True),
    ):
        ref, head = (np.median([r[key] for r in results[name]]) for name in (args.ref, "HEAD"))
        if per_second:
            ref, head = args.digits / ref, args.digits / head
        lines.append(f"{label:<34}{ref:>12.1f}{head:>12.1f}{head / ref:>12.2f}")
    for name in ("ERM", "fairmine"):
        gap = np.abs(
            np.array(results["HEAD"][0][f"{name}_proba"])
            - np.array(results[args.ref][0][f"{name}_proba"])
        ).max()
        lines.append(f"{name}: largest difference of predict_proba between the commits {gap:.2e}")
    text = "\n".join(lines) + "\n"
    print(text)
    write_results(args.out, text)


def _brief(result: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in result.items() if k.endswith("_s"))


if __name__ == "__main__":
    main()
