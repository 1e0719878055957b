"""IMDB faces (IMDB-WIKI) with the EB1/EB2 age-biased splits of Alvi et al. (2018)."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.io
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

__all__ = ["IMDB_AGE_BINS", "IMDBFaces", "load_imdb_faces"]

#: Edges of the 12 age bins of Alvi et al.: [0, 20), [20, 25), ..., [65, 70), [70, 120).
IMDB_AGE_BINS = np.array([0, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 120])
IMDB_AGE_BINS.setflags(write=False)

_FIELDS = ("dob", "photo_taken", "full_path", "gender", "face_score", "second_face_score")
_SPLITS = ("eb1", "eb2", "test")
#: The default cap on the training splits, as in the paper.
_PAPER_MAX_SAMPLES = 2000
#: MATLAB's datenum of 1970-01-01 (day 1 is 1 January of year 0).
_MATLAB_UNIX_EPOCH = 719529


class IMDBFaces(Dataset):
    """Face images read from disk on access, with gender targets and age bins.

    Only paths and metadata are kept in memory; each ``dataset[i]`` opens one
    image, converts it to RGB and resizes it to ``image_size x image_size``.

    Parameters
    ----------
    paths : sequence of str or path-like
        Image files.
    targets : array-like of int, shape (n,)
        Gender: 1 male, 0 female.
    ages : array-like of int, shape (n,)
        Age in years, in [0, 120).
    image_size : int, default=224
        Side of the square images returned.
    transform : callable or None, default=None
        Applied to each image tensor, e.g.
        ``torchvision.transforms.Normalize`` with ImageNet statistics.

    Attributes
    ----------
    paths : ndarray of str, shape (n,)
    targets : ndarray of int64, shape (n,)
        Gender, the task (1 male, 0 female).
    ages : ndarray of int64, shape (n,)
    sensitive_features : ndarray of int64, shape (n,)
        Age-bin index 0-11 (`IMDB_AGE_BINS`), the bias attribute.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from fairmine.datasets import IMDBFaces
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = Path(folder.name) / "face.png"
    >>> Image.new("RGB", (40, 50), (255, 0, 0)).save(path)
    >>> faces = IMDBFaces([path], targets=[1], ages=[33], image_size=32)
    >>> image, target = faces[0]
    >>> image.shape, image.dtype, target
    (torch.Size([3, 32, 32]), torch.float32, 1)
    >>> faces.sensitive_features
    array([3])
    >>> folder.cleanup()
    """

    def __init__(
        self,
        paths: Any,
        targets: Any,
        ages: Any,
        *,
        image_size: int = 224,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        _check_image_options(image_size, transform)
        self.paths = np.array([str(path) for path in paths], dtype=object)
        self.targets = np.asarray(targets, dtype=np.int64).reshape(-1)
        self.ages = np.asarray(ages, dtype=np.int64).reshape(-1)
        n = len(self.paths)
        if self.targets.shape != (n,) or self.ages.shape != (n,):
            raise ValueError(
                f"paths, targets and ages must have the same length, got {n}, "
                f"{len(self.targets)} and {len(self.ages)}"
            )
        if not np.isin(self.targets, (0, 1)).all():
            raise ValueError("targets must be 0 (female) or 1 (male)")
        if n and (self.ages.min() < IMDB_AGE_BINS[0] or self.ages.max() >= IMDB_AGE_BINS[-1]):
            raise ValueError(
                f"ages must lie in [{IMDB_AGE_BINS[0]}, {IMDB_AGE_BINS[-1]}), got "
                f"{self.ages.min()} to {self.ages.max()}"
            )
        self.sensitive_features = _age_bin(self.ages)
        self.image_size = int(image_size)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path = self.paths[index]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB").resize(
                    (self.image_size, self.image_size), Image.Resampling.BILINEAR
                )
        except FileNotFoundError as error:
            raise FileNotFoundError(f"face image {path!r} does not exist") from error
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise ValueError(f"cannot read face image {path!r}: {error}") from error
        tensor = torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)
        tensor = tensor.to(torch.float32).div_(255.0)
        if self.transform is not None:
            tensor = self.transform(tensor)
        return tensor, int(self.targets[index])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, image_size={self.image_size})"


def _check_image_options(image_size: int, transform: Any) -> None:
    if (
        not isinstance(image_size, numbers.Integral)
        or isinstance(image_size, bool)
        or image_size < 1
    ):
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    if transform is not None and not callable(transform):
        raise ValueError(f"transform must be callable or None, got {transform!r}")


def _age_bin(ages: np.ndarray) -> np.ndarray:
    """Index (0-11) of each age's bin in `IMDB_AGE_BINS`."""
    return np.digitize(ages, IMDB_AGE_BINS[1:-1]).astype(np.int64)


def load_imdb_faces(
    root: str | os.PathLike[str],
    split: Literal["eb1", "eb2", "test"] = "eb1",
    *,
    image_size: int = 224,
    max_samples: int | Literal["auto"] | None = "auto",
    test_fraction: float = 0.2,
    random_state: int = 0,
    transform: Callable[[torch.Tensor], Any] | None = None,
) -> IMDBFaces:
    """Load IMDB faces with the age-biased gender splits EB1/EB2 of Alvi et al.

    The task is gender (1 male, 0 female, IMDB-WIKI's ``gender`` field) and
    the bias attribute is age in 12 bins (`IMDB_AGE_BINS`). Faces are
    kept when they have a finite ``face_score``, no second face (NaN
    ``second_face_score``), a known gender and an age in [0, 100]; the age is
    the age on 1 July of ``photo_taken``, from the MATLAB date of birth
    ``dob``.

    The kept faces are split at random (seeded by ``random_state``) into a
    test part (``test_fraction``) and a training pool. ``"eb1"`` takes the
    pool's women younger than 30 and men aged 40 or more; ``"eb2"`` the
    pool's men younger than 30 and women aged 40 or more; ``"test"`` the
    whole test part (all ages and both genders, so unbiased). Faces aged
    30-39 are in neither training split.

    Parameters
    ----------
    root : path
        The extracted ``imdb_crop`` folder: ``imdb.mat`` and the image
        folders ``00/`` ... ``99/``.
    split : {"eb1", "eb2", "test"}, default="eb1"
        Which part to return.
    image_size : int, default=224
        Side of the square images returned.
    max_samples : int, "auto" or None, default="auto"
        At most this many faces, drawn at random (seeded) from the split.
        ``"auto"`` caps the training splits at 2000 (as in the paper) and
        leaves the test split whole; None never caps.
    test_fraction : float, default=0.2
        Fraction of the kept faces in the test part, in (0, 1).
    random_state : int, default=0
        Seeds the partition and the capping. It must be an int, and the same
        one for the training and the test split, so that they are disjoint.
    transform : callable or None, default=None
        Applied to each image tensor (float32 of shape (3, image_size,
        image_size) in [0, 1]), e.g. ImageNet normalisation.

    Returns
    -------
    IMDBFaces
        A ``torch.utils.data.Dataset`` of ``(image, gender)`` pairs with
        ``targets``, ``sensitive_features`` (age bin), ``ages`` and ``paths``.

    Raises
    ------
    FileNotFoundError
        When ``root`` or ``root/imdb.mat`` does not exist.
    ValueError
        For a bad argument, a ``.mat`` file without the ``imdb`` struct or one
        of its fields, or an empty selection.

    Examples
    --------
    >>> from torch.utils.data import DataLoader
    >>> from fairmine.datasets import load_imdb_faces
    >>> train = load_imdb_faces("imdb_crop", "eb1")  # doctest: +SKIP
    >>> test = load_imdb_faces("imdb_crop", "test")  # doctest: +SKIP
    >>> len(train)  # doctest: +SKIP
    2000
    >>> images, genders = next(iter(DataLoader(train, batch_size=24)))  # doctest: +SKIP
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    if (
        max_samples != "auto"
        and max_samples is not None
        and (
            not isinstance(max_samples, numbers.Integral)
            or isinstance(max_samples, bool)
            or max_samples < 1
        )
    ):
        raise ValueError(
            f"max_samples must be a positive integer, 'auto' or None, got {max_samples!r}"
        )
    if not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a float in (0, 1), got {test_fraction!r}")
    _check_image_options(image_size, transform)
    if not isinstance(random_state, numbers.Integral) or isinstance(random_state, bool):
        raise ValueError(
            "random_state must be an int (the same for the training and the test split, so "
            f"that they are disjoint), got {random_state!r}"
        )
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"IMDB root folder {str(root)!r} does not exist")
    meta = _read_imdb_mat(root / "imdb.mat")

    ages = _age_on_july_first(meta["dob"], meta["photo_taken"])
    gender = meta["gender"]
    keep = (
        np.isfinite(meta["face_score"])
        & np.isnan(meta["second_face_score"])
        & np.isin(gender, (0.0, 1.0))
        & (ages >= 0)
        & (ages <= 100)
    )
    kept = np.flatnonzero(keep)
    rng = np.random.RandomState(random_state)
    order = rng.permutation(kept)
    n_test = int(np.ceil(test_fraction * len(kept)))
    if split == "test":
        chosen = order[:n_test]
    else:
        pool = order[n_test:]
        young, old = ages[pool] < 30, ages[pool] >= 40
        male = gender[pool] == 1
        if split == "eb1":
            chosen = pool[(~male & young) | (male & old)]
        else:
            chosen = pool[(male & young) | (~male & old)]
    if max_samples == "auto":
        max_samples = None if split == "test" else _PAPER_MAX_SAMPLES
    if max_samples is not None and len(chosen) > max_samples:
        chosen = rng.choice(chosen, size=max_samples, replace=False)
    if len(chosen) == 0:
        raise ValueError(
            f"no face of {str(root / 'imdb.mat')!r} is in split {split!r} "
            f"({len(kept)} of {len(gender)} faces pass the filters)"
        )
    chosen = np.sort(chosen)
    return IMDBFaces(
        [root / meta["full_path"][i] for i in chosen],
        targets=gender[chosen].astype(np.int64),
        ages=ages[chosen],
        image_size=image_size,
        transform=transform,
    )


def _read_imdb_mat(path: Path) -> dict[str, np.ndarray]:
    """Read the fields of the ``imdb`` struct as flat arrays (``full_path`` as str)."""
    if not path.is_file():
        raise FileNotFoundError(f"IMDB metadata file {str(path)!r} does not exist")
    try:
        contents = scipy.io.loadmat(path, variable_names=["imdb"])
    except (scipy.io.matlab.MatReadError, ValueError, TypeError, NotImplementedError) as error:
        raise ValueError(f"cannot read {str(path)!r} as a MATLAB file: {error}") from error
    struct = contents.get("imdb")
    if struct is None or struct.dtype.names is None or struct.size != 1:
        raise ValueError(f"{str(path)!r} does not hold the MATLAB struct 'imdb'")
    missing = [field for field in _FIELDS if field not in struct.dtype.names]
    if missing:
        raise ValueError(f"the 'imdb' struct in {str(path)!r} lacks the fields {missing}")
    record = struct.reshape(-1)[0]
    fields = {
        field: np.asarray(record[field], dtype=np.float64).reshape(-1)
        for field in _FIELDS
        if field != "full_path"
    }
    fields["full_path"] = np.array(
        [_cell_text(cell) for cell in np.asarray(record["full_path"]).reshape(-1)], dtype=object
    )
    lengths = {field: len(values) for field, values in fields.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"the fields of the 'imdb' struct in {str(path)!r} have different lengths: {lengths}"
        )
    return fields


def _cell_text(cell: Any) -> str:
    """Text of one cell of a MATLAB cell array of strings (a 1-element array)."""
    values = np.asarray(cell).reshape(-1)
    return str(values[0]) if values.size else ""


def _age_on_july_first(dob: np.ndarray, photo_taken: np.ndarray) -> np.ndarray:
    """Age on 1 July of ``photo_taken`` of people born on MATLAB serial date ``dob``.

    Non-finite dates give -1 (filtered out as invalid ages).
    """
    valid = np.isfinite(dob) & np.isfinite(photo_taken)
    days = np.where(valid, np.floor(np.where(valid, dob, 0.0)) - _MATLAB_UNIX_EPOCH, 0)
    birth = days.astype(np.int64).astype("datetime64[D]")
    birth_year = birth.astype("datetime64[Y]")
    july_first = birth_year.astype("datetime64[M]") + np.timedelta64(6, "M")
    after_july_first = birth > july_first.astype("datetime64[D]")
    ages = (
        np.where(valid, photo_taken, 0).astype(np.int64)
        - (birth_year.astype(np.int64) + 1970)
        - after_july_first
    )
    return np.where(valid, ages, -1)
