"""Turn the sensitive attribute(s) into the float matrix ``c`` the critic reads.

Rules of ``encoding="auto"`` (documented in ``MIUnbiasedClassifier``):

* a 2-D numeric input whose entries are all 0 or 1 and that has at least two
  columns is a ready-made code (for example the 24-bit colour code of coloured
  MNIST) and is used as it is;
* otherwise each column is encoded on its own: floating-point columns are
  continuous and standardised; booleans, integers, strings and pandas
  categories are categorical and one-hot encoded (a two-valued column becomes
  a single 0/1 column).

``"categorical"``, ``"continuous"`` and ``"passthrough"`` force one treatment
for every column.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Set
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .exceptions import FairmineWarning, UninformativeSensitiveFeaturesWarning

__all__ = [
    "SENSITIVE_ENCODINGS",
    "check_row_container",
    "encode_sensitive_features",
    "warn_if_constant",
]

SensitiveEncoding = Literal["auto", "categorical", "continuous", "passthrough"]
SENSITIVE_ENCODINGS = ("auto", "categorical", "continuous", "passthrough")

#: a categorical column with more distinct values than this draws a warning
MAX_CATEGORIES_WITHOUT_WARNING = 32


def encode_sensitive_features(
    sensitive_features: Any,
    *,
    encoding: SensitiveEncoding = "auto",
    name: str = "sensitive_features",
) -> np.ndarray:
    """Encode sensitive features into a 2-D float32 array.

    Parameters
    ----------
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        A list, numpy array, pandas Series or DataFrame.
    encoding : {"auto", "categorical", "continuous", "passthrough"}, default="auto"
        How to encode the columns; see the module docstring.
    name : str, default="sensitive_features"
        The argument name used in error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_encoded), dtype float32

    Raises
    ------
    ValueError
        For missing or infinite values, values too large for float32, an
        empty or ragged input, more than two dimensions, non-numeric columns
        with ``"continuous"`` or ``"passthrough"``, or an unknown ``encoding``.
    """
    if encoding not in SENSITIVE_ENCODINGS:
        raise ValueError(
            f"sensitive_encoding must be one of {SENSITIVE_ENCODINGS}, got {encoding!r}"
        )
    frame = _as_frame(sensitive_features, name)
    _check_no_missing(frame, name)
    if encoding == "auto" and _is_binary_code(frame):
        encoding = "passthrough"
    # by position: column labels may repeat
    blocks = [
        _encode_column(frame.iloc[:, i], encoding, name, label)
        for i, label in enumerate(frame.columns)
    ]
    with np.errstate(over="ignore", invalid="ignore"):
        encoded = np.hstack(blocks).astype(np.float32, copy=False)
    if not np.isfinite(encoded).all():
        raise ValueError(
            f"{name} has values too large to encode as float32 (at most about 3.4e38, and "
            "their spread must be finite); rescale them first."
        )
    return encoded


def warn_if_constant(encoded: np.ndarray, name: str, consequence: str) -> bool:
    """Warn, and return True, when an encoded attribute takes a single value.

    Parameters
    ----------
    encoded : ndarray of shape (n_samples, n_encoded)
        Output of `encode_sensitive_features`.
    name : str
        The argument's name, for the message.
    consequence : str
        What the caller does about it, for the message.

    Returns
    -------
    bool
        Whether the attribute is constant.
    """
    if encoded.shape[0] > 1 and np.any(np.ptp(encoded, axis=0) > 0):
        return False
    warnings.warn(
        f"{name} takes a single value in these rows: it carries no information, so its "
        f"mutual information with anything is 0; {consequence}",
        UninformativeSensitiveFeaturesWarning,
        stacklevel=3,
    )
    return True


def check_row_container(values: Any, name: str) -> None:
    """Refuse containers whose values cannot be matched to rows: a dict, a set, an iterator.

    numpy reads each of them as a single object (a 0-d array), which the checks
    after would call a scalar or a one-row input.

    Parameters
    ----------
    values : object
        The argument given.
    name : str
        Its name, for the message.

    Raises
    ------
    TypeError
        Naming the argument, the type it got and what to pass instead.

    Examples
    --------
    >>> check_row_container({"sex": [0, 1]}, "sensitive_features")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: sensitive_features is a dict, which holds no rows: pass one value per row ...
    """
    if isinstance(values, Mapping):
        what = "pd.DataFrame(d) turns a dict of equal-length columns into one"
    elif isinstance(values, Set):
        what = "a set has no order, so its values cannot be matched to the rows"
    elif isinstance(values, Iterator):
        what = "list(...) reads an iterator or generator into one"
    else:
        return
    raise TypeError(
        f"{name} is a {type(values).__name__}, which holds no rows: pass one value per row as "
        f"a list, numpy array or pandas Series, or several columns as a pandas DataFrame "
        f"({what})."
    )


def _as_frame(values: Any, name: str) -> pd.DataFrame:
    check_row_container(values, name)
    if isinstance(values, pd.DataFrame):
        frame = values.reset_index(drop=True)
    elif isinstance(values, pd.Series):
        frame = values.reset_index(drop=True).to_frame()
    else:
        try:
            array = np.asarray(values)
        except (ValueError, TypeError) as error:  # ragged nested lists, for example
            raise ValueError(f"{name} cannot be read as a 1-D or 2-D array: {error}") from error
        if array.ndim == 0:
            raise ValueError(f"{name} must be 1-D or 2-D, got a scalar {values!r}")
        if array.ndim > 2:
            raise ValueError(f"{name} must be 1-D or 2-D, got an array of shape {array.shape}")
        if array.size == 0:
            raise ValueError(f"{name} is empty (shape {array.shape})")
        frame = pd.DataFrame(array.reshape(len(array), -1))
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {frame.shape})")
    frame.columns = [str(col) for col in frame.columns]
    return frame


def _check_no_missing(frame: pd.DataFrame, name: str) -> None:
    missing = frame.isna().to_numpy()
    if missing.any():
        column = frame.columns[np.flatnonzero(missing.any(axis=0))[0]]
        raise ValueError(
            f"{name} contains missing values (NaN/None) in column {column!r}; "
            "fairmine never imputes a sensitive attribute: drop or fill those rows first."
        )
    for i, label in enumerate(frame.columns):
        column = frame.iloc[:, i]
        if _is_numeric(column) and not np.isfinite(column.to_numpy(float)).all():
            raise ValueError(f"{name} contains infinite values in column {label!r}")


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _is_binary_code(frame: pd.DataFrame) -> bool:
    if frame.shape[1] < 2 or not all(_is_numeric(frame.iloc[:, i]) for i in range(frame.shape[1])):
        return False
    values = frame.to_numpy(dtype=float)
    return bool(np.isin(values, (0.0, 1.0)).all())


def _encode_column(column: pd.Series, encoding: str, name: str, label: str) -> np.ndarray:
    if encoding == "auto":
        encoding = "continuous" if pd.api.types.is_float_dtype(column) else "categorical"
    if encoding == "categorical":
        return _one_hot(column, name, label)
    if not _is_numeric(column):
        raise ValueError(
            f"{name} column {label!r} has non-numeric values (dtype {column.dtype}); "
            f"sensitive_encoding={encoding!r} needs numbers. Use 'categorical' or 'auto'."
        )
    values = column.to_numpy(dtype=np.float64).reshape(-1, 1)
    if encoding == "continuous":
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: refused by the caller
            return StandardScaler().fit_transform(values)
    return values


def _one_hot(column: pd.Series, name: str, label: str) -> np.ndarray:
    as_text = column.astype(str).to_numpy().reshape(-1, 1)
    n_categories = len(np.unique(as_text))
    if n_categories > MAX_CATEGORIES_WITHOUT_WARNING:
        warnings.warn(
            f"{name} column {label!r} is treated as categorical and has {n_categories} "
            "distinct values. If it is a continuous quantity (such as age in years), "
            "pass it as floats or set sensitive_encoding='continuous'.",
            FairmineWarning,
            stacklevel=4,
        )
    encoder = OneHotEncoder(drop="if_binary", sparse_output=False, dtype=np.float32)
    return encoder.fit_transform(as_text)
