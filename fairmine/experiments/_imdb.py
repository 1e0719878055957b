"""IMDB faces protocol of Ragonesi et al. (Table 2), after Alvi et al. (2018) and Kim et al. (2019).

Gender classification with an age bias: train on EB1 (women young, men old)
or EB2 (the reverse), 2000 images each, and score gender accuracy on the
other split and on the unrestricted test part. fairmine's critic sees the
age in 12 bins.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..datasets import load_imdb_faces
from ..networks import resnet50_backbone
from ._reference import reference_classifier

__all__ = ["IMDB_MI_WEIGHTS", "IMDB_PAPER_RESULTS", "run_imdb_protocol"]

IMDB_MI_WEIGHTS: dict[str, float] = {"eb1": 0.5, "eb2": 0.9}
"""The paper's lambda per training split (chosen there by the MI rule)."""

IMDB_PAPER_RESULTS: dict[str, dict[str, float]] = {
    "Alvi et al.": {"train eb1, test eb2": 0.637, "train eb1, test test": 0.856,
                    "train eb2, test eb1": 0.573, "train eb2, test test": 0.699},
    "Kim et al.": {"train eb1, test eb2": 0.680, "train eb1, test test": 0.867,
                   "train eb2, test eb1": 0.642, "train eb2, test test": 0.745},
    "Ragonesi et al.": {"train eb1, test eb2": 0.684, "train eb1, test test": 0.872,
                        "train eb2, test eb1": 0.631, "train eb2, test test": 0.745},
}  # fmt: skip
"""Published gender accuracy per protocol (paper Table 2; Alvi et al.'s and Kim et al.'s as quoted
there).
"""

#: ImageNet channel statistics, which the pretrained ResNet-50 expects.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def run_imdb_protocol(
    root: str | Path,
    *,
    seeds: int = 3,
    device: str = "cpu",
    weights: Any = "IMAGENET1K_V1",
    max_epochs: int = 10,
    image_size: int = 224,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Train ERM and fairmine on EB1 and on EB2 and score each on the other split and the test part.

    Both are [`reference_classifier`][fairmine.experiments.reference_classifier] ``("imdb")``
    (ResNet-50 trunk, 128-d bottleneck, critic 3 x 512 on the 12 age bins, lr 1e-5, batch 24) with
    the K = 20 critic steps drawn from the representation bank; fairmine
    uses [`IMDB_MI_WEIGHTS`][fairmine.experiments.IMDB_MI_WEIGHTS] for its training split, ERM
    ``mi_weight=0``.

    Parameters
    ----------
    root : str or path
        The ``imdb_crop`` folder holding ``imdb.mat`` (see
        [`load_imdb_faces`][fairmine.datasets.load_imdb_faces]).
    seeds : int, default=3
        Seeds 0 .. seeds-1, each initialising both models anew.
    device : str, default="cpu"
        Torch device.
    weights : str, path, torchvision weights or None, default="IMAGENET1K_V1"
        ResNet-50 weights, as [`resnet50_backbone`][fairmine.networks.resnet50_backbone]
        takes them (None: random initialisation).
    max_epochs : int, default=10
        Training epochs.
    image_size : int, default=224
        Side of the square images.
    progress : callable or None, default=None
        Called with one line of text after every score.

    Returns
    -------
    pandas.DataFrame
        One row per (train split, seed, model, test split) with ``seed``,
        ``model``, ``train_split``, ``test_split``, ``protocol`` (as the keys
        of [`IMDB_PAPER_RESULTS`][fairmine.experiments.IMDB_PAPER_RESULTS]) and ``accuracy``.

    Examples
    --------
    >>> from fairmine.experiments import run_imdb_protocol
    >>> results = run_imdb_protocol("imdb_crop", seeds=1)  # doctest: +SKIP
    """
    from torchvision.transforms import Normalize

    normalize = Normalize(mean=_IMAGENET_MEAN, std=_IMAGENET_STD)
    data = {
        split: load_imdb_faces(root, split, image_size=image_size, transform=normalize)
        for split in ("eb1", "eb2", "test")
    }
    rows = []
    for train_split, other in (("eb1", "eb2"), ("eb2", "eb1")):
        for seed in range(seeds):
            for name, mi_weight in (("ERM", 0.0), ("fairmine", IMDB_MI_WEIGHTS[train_split])):
                clf = reference_classifier(
                    "imdb",
                    backbone=resnet50_backbone(weights),
                    mi_weight=mi_weight,
                    penalty__sampling="bank",
                    max_epochs=max_epochs,
                    device=device,
                    random_state=seed,
                ).fit(data[train_split])
                for test_split in (other, "test"):
                    dataset = data[test_split]
                    accuracy = float(np.mean(clf.predict(dataset) == dataset.targets))
                    rows.append(
                        {
                            "seed": seed,
                            "model": name,
                            "train_split": train_split,
                            "test_split": test_split,
                            "protocol": f"train {train_split}, test {test_split}",
                            "accuracy": accuracy,
                        }
                    )
                    if progress is not None:
                        progress(
                            f"seed {seed} {name:<8} train {train_split} test {test_split}: "
                            f"accuracy {accuracy:.3f}"
                        )
    return pd.DataFrame(rows)
