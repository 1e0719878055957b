"""The UCI Adult (census income) data, bundled with the package."""

from __future__ import annotations

import gzip
from importlib import resources
from typing import Literal

import pandas as pd
from sklearn.utils import Bunch

__all__ = ["load_adult"]

_SUBSETS = ("train", "test", "all")

#: The bundled files of each official part, and how many comment lines each starts with.
_FILES = {"train": ("adult.data.gz", 0), "test": ("adult.test.gz", 1)}

#: The categories of each string attribute, as listed in UCI's ``adult.names`` (sorted).
_CATEGORIES = {
    "workclass": [
        "Federal-gov",
        "Local-gov",
        "Never-worked",
        "Private",
        "Self-emp-inc",
        "Self-emp-not-inc",
        "State-gov",
        "Without-pay",
    ],
    "education": [
        "10th",
        "11th",
        "12th",
        "1st-4th",
        "5th-6th",
        "7th-8th",
        "9th",
        "Assoc-acdm",
        "Assoc-voc",
        "Bachelors",
        "Doctorate",
        "HS-grad",
        "Masters",
        "Preschool",
        "Prof-school",
        "Some-college",
    ],
    "marital_status": [
        "Divorced",
        "Married-AF-spouse",
        "Married-civ-spouse",
        "Married-spouse-absent",
        "Never-married",
        "Separated",
        "Widowed",
    ],
    "occupation": [
        "Adm-clerical",
        "Armed-Forces",
        "Craft-repair",
        "Exec-managerial",
        "Farming-fishing",
        "Handlers-cleaners",
        "Machine-op-inspct",
        "Other-service",
        "Priv-house-serv",
        "Prof-specialty",
        "Protective-serv",
        "Sales",
        "Tech-support",
        "Transport-moving",
    ],
    "relationship": [
        "Husband",
        "Not-in-family",
        "Other-relative",
        "Own-child",
        "Unmarried",
        "Wife",
    ],
    "race": ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"],
    "sex": ["Female", "Male"],
    "native_country": [
        "Cambodia",
        "Canada",
        "China",
        "Columbia",
        "Cuba",
        "Dominican-Republic",
        "Ecuador",
        "El-Salvador",
        "England",
        "France",
        "Germany",
        "Greece",
        "Guatemala",
        "Haiti",
        "Holand-Netherlands",
        "Honduras",
        "Hong",
        "Hungary",
        "India",
        "Iran",
        "Ireland",
        "Italy",
        "Jamaica",
        "Japan",
        "Laos",
        "Mexico",
        "Nicaragua",
        "Outlying-US(Guam-USVI-etc)",
        "Peru",
        "Philippines",
        "Poland",
        "Portugal",
        "Puerto-Rico",
        "Scotland",
        "South",
        "Taiwan",
        "Thailand",
        "Trinadad&Tobago",
        "United-States",
        "Vietnam",
        "Yugoslavia",
    ],
}

#: The 14 attributes in file order (UCI's hyphens replaced by underscores).
_FEATURES = [
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

_TARGET = "income"
_SENSITIVE = ["sex", "race"]

_DESCR = """\
Adult (census income) data (UCI)
================================

48,842 people from the 1994 US Current Population Survey, described by 14
attributes (6 numeric, 8 categorical) and labelled by whether their income
exceeds $50K a year (1, ``>50K``) or not (0, ``<=50K``). The official split
has 32,561 training rows (7,841 positive) and 16,281 test rows (3,846
positive). Missing values (``?`` in the files) occur only in ``workclass``,
``occupation`` and ``native_country``: 2,399 training and 1,221 test rows have
at least one. The usual sensitive attributes are ``sex`` and ``race``.

Numeric columns: age, fnlwgt (census sampling weight), education_num,
capital_gain, capital_loss, hours_per_week.

Source: Becker, B. and Kohavi, R. (1996). Adult. UCI Machine Learning
Repository. https://doi.org/10.24432/C5XW20
Licence: Creative Commons Attribution 4.0 International (CC BY 4.0).
The bundled files are the original ``adult.data`` and ``adult.test``, gzipped.
"""


def load_adult(
    *,
    subset: Literal["train", "test", "all"] = "train",
    dropna: bool = False,
) -> Bunch:
    """Load the UCI Adult census income data that ships with fairmine (no download).

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The official part to load: ``"train"`` (``adult.data``, 32,561 rows),
        ``"test"`` (``adult.test``, 16,281 rows) or ``"all"`` (train then test,
        48,842 rows), as in `sklearn.datasets.fetch_20newsgroups`.
    dropna : bool, default=False
        Drop the rows with a missing value. This leaves 30,162 training rows,
        15,060 test rows and 45,222 in all.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with attributes:

        data : pandas.DataFrame of shape (n_samples, 14)
            The attributes. The 8 string columns are pandas categories (the
            same categories, those of UCI's ``adult.names``, for every subset),
            with missing values (``?``) as NaN; the 6 numeric columns are int64.
        target : pandas.Series of shape (n_samples,)
            ``income``: 1 for ``>50K``, 0 for ``<=50K`` (the test file's
            trailing dots are removed).
        sensitive_features : pandas.DataFrame of shape (n_samples, 2)
            The ``sex`` and ``race`` columns of ``data``.
        frame : pandas.DataFrame of shape (n_samples, 15)
            ``data`` and ``target`` together.
        feature_names : list of str
            The 14 column names, with underscores (``education_num``,
            ``marital_status``, ``capital_gain``, ...).
        target_names : list of str
            ``["<=50K", ">50K"]``, indexed by the target value.
        DESCR : str
            Description, source and licence.

        All frames have a fresh ``RangeIndex`` (also after ``dropna``).

    Notes
    -----
    Like [`load_german`][fairmine.datasets.load_german], the data are always returned as pandas
    objects, so there is no ``as_frame`` parameter.

    Examples
    --------
    >>> from fairmine.datasets import load_adult
    >>> adult = load_adult()
    >>> adult.data.shape
    (32561, 14)
    >>> int(adult.target.sum())
    7841
    >>> load_adult(subset="test", dropna=True).data.shape
    (15060, 14)
    >>> load_adult(subset="all").sensitive_features.shape
    (48842, 2)
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {_SUBSETS}, got {subset!r}")
    parts = ["train", "test"] if subset == "all" else [subset]
    frame = pd.concat([_read(part) for part in parts], ignore_index=True)
    if dropna:
        frame = frame.dropna().reset_index(drop=True)
    data = frame[_FEATURES].copy()
    target = frame[_TARGET].copy()
    return Bunch(
        data=data,
        target=target,
        sensitive_features=data[_SENSITIVE].copy(),
        frame=frame,
        feature_names=list(_FEATURES),
        target_names=["<=50K", ">50K"],
        DESCR=_DESCR,
    )


def _read(part: str) -> pd.DataFrame:
    """Read one bundled file into the 14 typed attributes and the 0/1 income."""
    name, comment_lines = _FILES[part]
    dtypes: dict[str, object] = {
        column: pd.CategoricalDtype(_CATEGORIES[column]) if column in _CATEGORIES else "int64"
        for column in _FEATURES
    }
    dtypes[_TARGET] = str
    path = resources.files("fairmine.datasets") / "data" / name
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as handle:
        frame = pd.read_csv(
            handle,
            header=None,
            names=[*_FEATURES, _TARGET],
            dtype=dtypes,
            skiprows=comment_lines,
            skipinitialspace=True,
            na_values=["?"],
            keep_default_na=False,
        )
    income = frame[_TARGET].str.rstrip(".")
    unknown = set(income) - {"<=50K", ">50K"}
    if unknown:
        raise ValueError(f"unexpected income labels in {name}: {sorted(unknown)}")
    frame[_TARGET] = (income == ">50K").astype("int64")
    return frame
