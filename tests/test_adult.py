import csv
import functools
import gzip
import hashlib
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from fairmine.datasets import load_adult

#: Where the UCI originals live on the machine the data were bundled on (absent in CI).
ORIGINALS = Path("/work/shared/data")

#: Byte size and sha256 of the UCI originals, recorded when they were bundled.
ORIGINAL_DIGESTS = {
    "adult.data": (3974305, "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"),
    "adult.test": (2003153, "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"),
}

ROWS = {"train": 32561, "test": 16281, "all": 48842}
ROWS_DROPNA = {"train": 30162, "test": 15060, "all": 45222}
POSITIVES = {"train": 7841, "test": 3846}
ROWS_WITH_MISSING = {"train": 2399, "test": 1221}
SEX_COUNTS = {"train": {"Male": 21790, "Female": 10771}, "test": {"Male": 10860, "Female": 5421}}

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
]


def _bundled(name):
    return resources.files("fairmine.datasets").joinpath("data", name)


@functools.cache
def _raw_lines(subset):
    """The bundled file's text lines, read with gzip and csv only (not the loader)."""
    name = {"train": "adult.data.gz", "test": "adult.test.gz"}[subset]
    with _bundled(name).open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as handle:
        return tuple(tuple(row) for row in csv.reader(handle, skipinitialspace=True))


def _raw_rows(subset):
    if subset == "all":
        return _raw_rows("train") + _raw_rows("test")
    return tuple(row for row in _raw_lines(subset) if len(row) == 15)


@functools.cache
def _load(subset="train", dropna=False):
    return load_adult(subset=subset, dropna=dropna)


def test_raw_files_have_the_documented_layout():
    train, test = _raw_lines("train"), _raw_lines("test")
    assert test[0] == ("|1x3 Cross validator",)
    assert [len(row) for row in train[:-1]] == [15] * ROWS["train"]
    assert [len(row) for row in test[1:-1]] == [15] * ROWS["test"]
    assert train[-1] == test[-1] == ()
    assert {row[14] for row in _raw_rows("train")} == {"<=50K", ">50K"}
    assert {row[14] for row in _raw_rows("test")} == {"<=50K.", ">50K."}


@pytest.mark.parametrize("subset", ["train", "test", "all"])
def test_shapes_and_bunch_fields(subset):
    adult = _load(subset)
    assert isinstance(adult, Bunch)
    n = ROWS[subset]
    assert len(_raw_rows(subset)) == n
    assert adult.data.shape == (n, 14)
    assert adult.target.shape == (n,)
    assert adult.sensitive_features.shape == (n, 2)
    assert adult.frame.shape == (n, 15)
    assert list(adult.feature_names) == list(adult.data.columns)
    assert list(adult.frame.columns) == [*adult.feature_names, "income"]
    assert list(adult.target_names) == ["<=50K", ">50K"]
    assert isinstance(adult.data.index, pd.RangeIndex)


def test_column_names_use_underscores():
    assert _load().feature_names == [
        "age",
        "workclass",
        "fnlwgt",
        "education",
        "education_num",
        "marital_status",
        "occupation",
        "relationship",
        "race",
        "sex",
        "capital_gain",
        "capital_loss",
        "hours_per_week",
        "native_country",
    ]


@pytest.mark.parametrize("subset", ["train", "test"])
def test_positive_counts_match_the_raw_file(subset):
    raw = Counter(row[14].rstrip(".") for row in _raw_rows(subset))
    assert raw[">50K"] == POSITIVES[subset]
    target = _load(subset).target
    assert target.name == "income"
    assert target.dtype == np.int64
    assert target.value_counts().to_dict() == {1: POSITIVES[subset], 0: ROWS[subset] - raw[">50K"]}
    expected = [int(row[14].rstrip(".") == ">50K") for row in _raw_rows(subset)]
    np.testing.assert_array_equal(target.to_numpy(), expected)


def test_all_is_train_then_test():
    everything, train, test = _load("all"), _load("train"), _load("test")
    assert int(everything.target.sum()) == POSITIVES["train"] + POSITIVES["test"]
    expected = pd.concat([train.frame, test.frame], ignore_index=True)
    # DataFrame.equals also compares dtypes; assert_frame_equal is slow on categoricals.
    assert everything.frame.equals(expected)
    assert everything.frame.dtypes.equals(expected.dtypes)


@pytest.mark.parametrize("subset", ["train", "test"])
def test_missing_values_and_dropna(subset):
    raw_missing = sum("?" in row for row in _raw_rows(subset))
    assert raw_missing == ROWS_WITH_MISSING[subset]
    data = _load(subset).data
    assert int(data.isna().any(axis=1).sum()) == raw_missing
    assert set(data.columns[data.isna().any()]) == {"workclass", "occupation", "native_country"}
    assert not data.isin(["?"]).any().any()

    dropped = _load(subset, dropna=True)
    assert dropped.data.shape == (ROWS_DROPNA[subset], 14)
    assert ROWS_DROPNA[subset] == ROWS[subset] - raw_missing
    assert not dropped.frame.isna().any().any()
    assert isinstance(dropped.data.index, pd.RangeIndex)
    kept = [row for row in _raw_rows(subset) if "?" not in row]
    np.testing.assert_array_equal(dropped.data["fnlwgt"], [int(row[2]) for row in kept])
    assert int(dropped.target.sum()) == sum(row[14].rstrip(".") == ">50K" for row in kept)


def test_dropna_all_rows():
    assert _load("all", dropna=True).data.shape == (ROWS_DROPNA["all"], 14)


@pytest.mark.parametrize("subset", ["train", "test"])
def test_values_match_the_raw_file(subset):
    data = _load(subset).data
    rows = _raw_rows(subset)
    for position, column in enumerate(data.columns):
        raw = [row[position] for row in rows]
        if column in NUMERIC:
            np.testing.assert_array_equal(data[column].to_numpy(), [int(v) for v in raw])
        else:
            loaded = data[column].astype(object).where(data[column].notna(), "?")
            assert loaded.tolist() == raw, column


def test_dtypes():
    data = _load("all").data
    for column in NUMERIC:
        assert data[column].dtype == np.int64, column
    for column in CATEGORICAL:
        assert isinstance(data[column].dtype, pd.CategoricalDtype), column
        assert not data[column].cat.ordered
    assert len(data.select_dtypes("number").columns) == 6


def test_categories_are_the_same_for_every_subset():
    train, test = _load("train").data, _load("test").data
    for column in CATEGORICAL:
        assert list(train[column].cat.categories) == list(test[column].cat.categories), column
    # The one value absent from the test file is still a category there.
    assert "Holand-Netherlands" in test["native_country"].cat.categories
    assert "Holand-Netherlands" not in set(test["native_country"].dropna())


@pytest.mark.parametrize("subset", ["train", "test"])
def test_sex_and_race(subset):
    adult = _load(subset)
    sex = adult.data["sex"]
    assert list(sex.cat.categories) == ["Female", "Male"]
    assert sex.value_counts().to_dict() == SEX_COUNTS[subset]
    assert Counter(row[9] for row in _raw_rows(subset)) == SEX_COUNTS[subset]
    race = adult.data["race"]
    assert len(race.cat.categories) == 5
    assert set(race) == {"White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"}
    assert list(adult.sensitive_features.columns) == ["sex", "race"]
    assert adult.sensitive_features.equals(adult.data[["sex", "race"]])


def test_no_trailing_dots_in_the_target():
    adult = _load("test")
    assert set(adult.target.unique()) == {0, 1}
    assert not any(name.endswith(".") for name in adult.target_names)


@pytest.mark.parametrize("subset", ["validation", "TRAIN", "", None])
def test_unknown_subset_raises(subset):
    with pytest.raises(ValueError, match=r"subset must be one of .*'train', 'test', 'all'"):
        load_adult(subset=subset)


def test_descr_names_source_and_licence():
    descr = _load().DESCR
    assert "UCI" in descr
    assert "Becker" in descr and "Kohavi" in descr
    assert "10.24432/C5XW20" in descr
    assert "CC BY 4.0" in descr


@pytest.mark.parametrize("name", ["adult.data", "adult.test"])
def test_bundled_files_are_reproducible_gzip_of_the_originals(name):
    compressed = _bundled(f"{name}.gz").read_bytes()
    assert compressed[4:8] == b"\x00\x00\x00\x00"  # mtime=0
    content = gzip.decompress(compressed)
    size, digest = ORIGINAL_DIGESTS[name]
    assert len(content) == size
    assert hashlib.sha256(content).hexdigest() == digest


@pytest.mark.skipif(not ORIGINALS.is_dir(), reason="the UCI originals are not on this machine")
@pytest.mark.parametrize("name", ["adult.data", "adult.test"])
def test_bundled_files_decompress_to_the_originals(name):
    original = (ORIGINALS / name).read_bytes()
    content = gzip.decompress(_bundled(f"{name}.gz").read_bytes())
    assert len(content) == len(original)
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(original).hexdigest()
