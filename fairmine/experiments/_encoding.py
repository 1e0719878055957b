"""The encoding of tabular features that every protocol and sweep fits on its training part."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["tabular_preprocessor"]


def tabular_preprocessor() -> ColumnTransformer:
    """One-hot encode text, category and boolean columns; impute and scale numbers.

    Missing numbers take the training part's median; a missing category is
    a category of its own; categories unseen in training are ignored.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; it emits a dense float array.

    Examples
    --------
    >>> import pandas as pd
    >>> from fairmine.experiments import tabular_preprocessor
    >>> frame = pd.DataFrame({"job": ["a", "b", None], "age": [20.0, None, 40.0]})
    >>> tabular_preprocessor().fit_transform(frame).shape
    (3, 4)
    """
    return ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                make_column_selector(dtype_exclude="number"),
            ),
            (
                "numbers",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                make_column_selector(dtype_include="number"),
            ),
        ]
    )
