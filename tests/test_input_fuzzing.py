"""Property-based fuzzing of input handling (hypothesis).

``fit``, ``predict`` / ``predict_proba`` / ``transform`` and ``estimate_mi``
are called on generated inputs of random containers (numpy arrays, lists,
pandas Series and DataFrames), dtypes (int, float32/64, bool, object,
strings, pandas ``string``, categorical, nullable ``Int64`` / ``Float64`` /
``boolean``), shapes (0-, 1-, 2- and 3-D, zero columns), lengths (0, 1,
mismatched rows) and missing values (NaN, None, ``pd.NA``, infinities).
Every call must either work or raise ``ValueError`` / ``TypeError`` whose
message names the offending argument; any other exception fails.
Warnings are allowed and ignored. ``fit`` is also fuzzed in ``sample_weight``
(lengths, dtypes, NaN, infinities, negative and all-zero weights) and in its
parameters (layer widths, sizes, rates, ``class_weight``, criteria, the
bank), and after every refused call the estimator must be as it was: a
fitted one keeps every fitted attribute and predicts as before, an unfitted
one raises ``NotFittedError``.

Which argument is "wrong": each case fuzzes exactly one argument (the one in
the test's name); the other arguments are valid, fixed data of ``n`` rows.
An error must name the fuzzed argument as a word (``X``, ``y``,
``sensitive_features``, ``Z``, ``C``, ``given``); it may name others too, as
a length-mismatch message names both sides. The one exception is
``test_fit_with_fewer_than_two_rows``, where every argument is at fault and
naming any of them will do.

Generated cases per run (``derandomize=True``, so every run draws the same
ones): fit 3 x 300 (``X``, ``y``, ``sensitive_features``) + 30 (0 or 1
rows), predict / predict_proba / transform 400 (each case calls all three),
``estimate_mi`` 3 x 200 (``Z``, ``C``, ``given``), fit's ``sample_weight``
and parameters 2 x 40: 2010 in total. Shrinking
is off so that a failing test stops at its first failing case instead of
re-fitting hundreds of times; ``--hypothesis-show-statistics`` shows the
counts and how many cases were accepted.

The tests of ``X`` and ``y`` rely on ``MIUnbiasedClassifier`` naming the
argument in the errors of scikit-learn's ``validate_data``, whose own
messages often do not ("Found array with 0 feature(s)", "Expected 2D array").
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from fairmine import MIUnbiasedClassifier, estimate_mi
from fairmine.mi import DonskerVaradhan

TINY = {
    "max_epochs": 1,
    "penalty": DonskerVaradhan(steps=1, warmup_steps=0, hidden=(4,)),
    "batch_size": 8,
    "hidden_units": (4,),
    "embedding_dim": 2,
    "random_state": 0,
}
TINY_MI = {
    "critic_hidden": (4,),
    "max_steps": 2,
    "eval_every": 1,
    "patience": 1,
    "batch_size": 4,
    "return_std": True,
}
#: string values never spell an argument name, so a message quoting data cannot name one
ALPHABET = ("a", "b", "d")
MAX_ROWS = 21


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------ checking
def assert_names_argument(error: BaseException, names: Sequence[str]) -> None:
    """Assert that the message of ``error`` contains one of ``names`` as a word."""
    message = str(error)
    for name in names:
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message):
            return
    raise AssertionError(
        f"{type(error).__name__} does not name {' or '.join(names)}: {message!r}"
    ) from error


def outcome(call: Callable[[], Any], *names: str) -> tuple[bool, Any]:
    """Run ``call``: return ``(True, result)``, or ``(False, error)`` for a well-formed error.

    A well-formed error is a ``ValueError`` or ``TypeError`` naming one of
    ``names``; anything else raised fails the test. Warnings are allowed.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = call()
        except (ValueError, TypeError) as error:
            assert_names_argument(error, names)
            event(f"{type(error).__name__}")
            return False, error
        except Exception as error:
            raise AssertionError(
                f"{type(error).__name__} escaped instead of ValueError/TypeError naming "
                f"{' or '.join(names)}: {error}"
            ) from error
    event("accepted")
    return True, result


def must_work(call: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


# ---------------------------------------------------------------- generators
_weighted_bool = st.sampled_from([False, False, False, True])
_finite = st.one_of(
    st.floats(-100, 100, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 1e-300, 1e3]),
)
COLUMN_KINDS = (
    "int",
    "float32",
    "float64",
    "bool",
    "object_num",
    "object_str",
    "unicode",
    "string",
    "category",
    "Int64",
    "Float64",
    "boolean",
    "object_mixed",
)


@st.composite
def columns(draw: st.DrawFn, n: int, kind: str | None = None) -> Any:
    """One column of ``n`` values of a random dtype, maybe with missing values.

    Returns a 1-D numpy array, a pandas extension array or a Categorical.
    """
    kind = kind or draw(st.sampled_from(COLUMN_KINDS))
    codes = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    holes = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if draw(_weighted_bool) else []
    holes = [i for i, hole in enumerate(holes) if hole]
    strings = [ALPHABET[code] for code in codes]
    if kind == "int":
        return np.array(codes, dtype=draw(st.sampled_from(["int8", "int64", "uint8"])))
    if kind == "bool":
        return np.array(codes) % 2 == 0
    if kind == "unicode":
        return np.array(strings, dtype="U1")
    if kind in ("float32", "float64", "Float64"):
        values = np.array(draw(st.lists(_finite, min_size=n, max_size=n)), dtype=float)
        if draw(_weighted_bool):
            values = values.round()  # few distinct values
        if kind == "Float64":
            out = pd.array(values, dtype="Float64")
            out[holes] = pd.NA
            return out
        specials = [np.nan, np.inf, -np.inf] + ([1e39, 1e308] if kind == "float64" else [])
        for i in holes:
            values[i] = draw(st.sampled_from(specials))
        return values.astype(kind)
    if kind == "Int64":
        out = pd.array(codes, dtype="Int64")
        out[holes] = pd.NA
        return out
    if kind == "boolean":
        out = pd.array([code % 2 == 0 for code in codes], dtype="boolean")
        out[holes] = pd.NA
        return out
    if kind == "string":
        out = pd.array(strings, dtype="string")
        out[holes] = pd.NA
        return out
    if kind == "category":
        labels = strings if draw(st.booleans()) else codes
        extra = ["z"] if isinstance(labels[0] if labels else "", str) else [9]
        cat = pd.Categorical(labels, categories=sorted(set(labels)) + extra)
        cat[holes] = np.nan
        return cat
    if kind == "object_num":
        values = [code if code % 2 else code + 0.5 for code in codes]
    elif kind == "object_str":
        values = strings
    else:  # object_mixed
        values = [(1, "a", 2.5)[code] for code in codes]
    out = np.array(values, dtype=object)
    for i in holes:
        out[i] = draw(st.sampled_from([None, np.nan, pd.NA]))
    return out


@st.composite
def frames(draw: st.DrawFn, n: int, n_columns: int, names: Sequence[str] | None = None) -> Any:
    """A DataFrame of ``n_columns`` columns of independently drawn dtypes."""
    style = draw(st.sampled_from(["str", "str", "int", "mixed", "duplicate", "given"]))
    if style == "given" and names is not None and len(names) >= n_columns:
        labels: list[Any] = list(names[:n_columns])
    elif style == "int":
        labels = list(range(n_columns))
    elif style == "mixed":
        labels = [i if i % 2 else f"col{i}" for i in range(n_columns)]
    elif style == "duplicate":
        labels = ["col"] * n_columns
    else:
        labels = [f"col{i}" for i in range(n_columns)]
    if n_columns == 0:
        return pd.DataFrame(index=range(n))
    parts = [pd.Series(draw(columns(n)), name=label) for label in labels]
    frame = pd.concat(parts, axis=1)
    if draw(_weighted_bool):
        frame.index = frame.index[::-1] + 7  # a non-default index
    return frame


_CONTAINERS = {
    "2d": ["numpy2d"] * 3 + ["frame"] * 3 + ["list2d", "1d", "3d", "scalar", "ragged", "none"],
    "1d": ["numpy", "series", "list"] * 2
    + ["column", "frame", "numpy2d", "3d", "scalar", "ragged", "none"],
}


@st.composite
def fuzzed(
    draw: st.DrawFn,
    n: int,
    prefer: str,
    n_columns: int | None = None,
    names: Any = None,
    same_rows: bool = False,
) -> Any:
    """Any input an argument could receive; usually ``n`` rows, sometimes a different count.

    ``prefer`` ("2d" or "1d") tilts the container towards tables or vectors.
    """
    if same_rows or draw(st.sampled_from([True, True, True, False])):
        rows = n
    else:
        rows = draw(st.integers(0, MAX_ROWS))
    container = draw(st.sampled_from(_CONTAINERS[prefer]))
    if n_columns is None or not draw(st.sampled_from([True, True, False])):
        n_columns = draw(st.integers(0, 4)) if prefer == "2d" else draw(st.integers(1, 3))
    if container in ("numpy", "series", "list", "1d"):
        column = draw(columns(rows))
        if container == "list":
            return column.tolist() if isinstance(column, np.ndarray) else list(column)
        if container == "numpy":
            return np.asarray(column)
        if not draw(st.booleans()):
            return np.asarray(column)
        series = pd.Series(column)
        if draw(_weighted_bool):
            series.index = series.index[::-1] + 7  # a non-default index
        return series
    if container == "column":
        return np.asarray(draw(columns(rows))).reshape(-1, 1)
    if container in ("numpy2d", "list2d"):
        kind = draw(st.sampled_from(COLUMN_KINDS))
        if n_columns == 0:
            table = np.empty((rows, 0))
        else:
            table = np.column_stack(
                [np.asarray(draw(columns(rows, kind))) for _ in range(n_columns)]
            ).reshape(rows, n_columns)
        return table.tolist() if container == "list2d" else table
    if container == "frame":
        return draw(frames(rows, n_columns, names))
    if container == "3d":
        return np.asarray(draw(columns(rows * 4, "float64"))).reshape(rows, 2, 2)
    if container == "ragged":
        return [[1.0] * (1 + i % 2) for i in range(max(rows, 2))]
    if container == "scalar":
        return draw(st.sampled_from([1.5, 0, "a", True]))
    return None


def base_X(n: int) -> np.ndarray:
    return np.random.RandomState(n).normal(size=(n, 3))


def base_y(n: int) -> np.ndarray:
    return np.arange(n) % 2


def base_sensitive(n: int) -> np.ndarray:
    return np.random.RandomState(n + 1).randint(0, 2, n)


# ------------------------------------------------------------------- fit
def check_fit(X: Any, y: Any, sensitive: Any, criterion: str, *targets: str) -> None:
    clf = MIUnbiasedClassifier(criterion=criterion, **TINY)
    fitted, _ = outcome(lambda: clf.fit(X, y, sensitive_features=sensitive), *targets)
    if not fitted:
        return
    # whatever fit accepted, predict takes too
    proba = must_work(lambda: clf.predict_proba(X))
    assert proba.shape == (len(X), len(clf.classes_)) and len(clf.classes_) >= 2
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert must_work(lambda: clf.predict(X)).shape == (len(X),)


_criteria = st.sampled_from(["demographic_parity", "equalized_odds"])


@fuzz_settings(300)
@given(n=st.integers(2, 20), data=st.data(), criterion=_criteria)
def test_fit_with_fuzzed_X(n: int, data: st.DataObject, criterion: str) -> None:
    """fit either works on a fuzzed X or raises a ValueError/TypeError naming X."""
    X = data.draw(fuzzed(n, "2d"), label="X")
    check_fit(X, base_y(n), base_sensitive(n), criterion, "X")


@fuzz_settings(300)
@given(n=st.integers(2, 20), data=st.data(), criterion=_criteria)
def test_fit_with_fuzzed_y(n: int, data: st.DataObject, criterion: str) -> None:
    """fit either works on a fuzzed y or raises a ValueError/TypeError naming y."""
    y = data.draw(fuzzed(n, "1d"), label="y")
    check_fit(base_X(n), y, base_sensitive(n), criterion, "y")


@fuzz_settings(300)
@given(n=st.integers(2, 20), data=st.data(), criterion=_criteria)
def test_fit_with_fuzzed_sensitive_features(n: int, data: st.DataObject, criterion: str) -> None:
    """fit either works on fuzzed sensitive_features or raises an error naming them."""
    sensitive = data.draw(fuzzed(n, "1d"), label="sensitive_features")
    check_fit(base_X(n), base_y(n), sensitive, criterion, "sensitive_features")


@fuzz_settings(30)
@given(n=st.integers(0, 1), data=st.data(), criterion=_criteria)
def test_fit_with_fewer_than_two_rows(n: int, data: st.DataObject, criterion: str) -> None:
    """fit on 0 or 1 consistent rows raises a ValueError/TypeError naming X or y.

    Here every argument is at fault (no rows, or a single class), so naming
    any of them will do.
    """
    X = data.draw(fuzzed(n, "2d", same_rows=True), label="X")
    check_fit(X, base_y(n), base_sensitive(n), criterion, "X", "y", "sensitive_features")


# ------------------------------------------------- predict / transform
FIT_COLUMNS = ["f0", "f1", "f2"]


@pytest.fixture(scope="module")
def fitted_models() -> dict[str, MIUnbiasedClassifier]:
    """One tiny model fitted on a numpy array, one on a DataFrame with column names."""
    X, y, c = base_X(16), np.array(["no", "yes"])[base_y(16)], base_sensitive(16)
    models = {}
    for kind, data in [("array", X), ("frame", pd.DataFrame(X, columns=FIT_COLUMNS))]:
        models[kind] = must_work(
            lambda data=data: MIUnbiasedClassifier(**TINY).fit(data, y, sensitive_features=c)
        )
    return models


@fuzz_settings(400)
@given(
    model=st.sampled_from(["array", "frame"]),
    n=st.integers(0, 20),
    data=st.data(),
)
def test_predict_and_transform_with_fuzzed_X(
    fitted_models: dict[str, MIUnbiasedClassifier], model: str, n: int, data: st.DataObject
) -> None:
    """predict, predict_proba and transform all work on a fuzzed X or all raise naming X."""
    clf = fitted_models[model]
    X = data.draw(fuzzed(n, "2d", n_columns=3, names=FIT_COLUMNS), label="X")
    results = {
        method: outcome(lambda method=method: getattr(clf, method)(X), "X")
        for method in ("predict", "predict_proba", "transform")
    }
    worked = {method: ok for method, (ok, _) in results.items()}
    assert len(set(worked.values())) == 1, f"the three methods disagree on X: {results}"
    if not worked["predict"]:
        return
    rows = len(X)
    assert results["predict"][1].shape == (rows,)
    assert np.isin(results["predict"][1], clf.classes_).all()
    proba = results["predict_proba"][1]
    assert proba.shape == (rows, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    z = results["transform"][1]
    assert z.shape == (rows, TINY["embedding_dim"]) and z.dtype == np.float32
    assert np.isfinite(z).all()


# ------------------------------------------------------------ estimate_mi
MI_ROWS = st.integers(10, 20)


def check_estimate_mi(Z: Any, C: Any, groups: Any, target: str) -> None:
    ok, result = outcome(lambda: estimate_mi(Z, C, given=groups, **TINY_MI), target)
    if ok:
        value, std_error = result
        assert np.isfinite(value) and np.isfinite(std_error) and std_error >= 0, result


def base_Z(n: int) -> np.ndarray:
    return np.random.RandomState(n + 2).normal(size=(n, 2))


@fuzz_settings(200)
@given(n=MI_ROWS, data=st.data(), conditional=st.booleans())
def test_estimate_mi_with_fuzzed_Z(n: int, data: st.DataObject, conditional: bool) -> None:
    """estimate_mi either works on a fuzzed Z or raises a ValueError/TypeError naming Z."""
    Z = data.draw(fuzzed(n, "2d"), label="Z")
    check_estimate_mi(Z, base_sensitive(n), base_y(n) if conditional else None, "Z")


@fuzz_settings(200)
@given(n=MI_ROWS, data=st.data(), conditional=st.booleans())
def test_estimate_mi_with_fuzzed_C(n: int, data: st.DataObject, conditional: bool) -> None:
    """estimate_mi either works on a fuzzed C or raises a ValueError/TypeError naming C."""
    C = data.draw(fuzzed(n, "1d"), label="C")
    check_estimate_mi(base_Z(n), C, base_y(n) if conditional else None, "C")


@fuzz_settings(200)
@given(n=MI_ROWS, data=st.data())
def test_estimate_mi_with_fuzzed_given(n: int, data: st.DataObject) -> None:
    """estimate_mi either works on a fuzzed given or raises a ValueError/TypeError naming it."""
    groups = data.draw(fuzzed(n, "1d"), label="given")
    check_estimate_mi(base_Z(n), base_sensitive(n), groups, "given")


# ------------------------------------- sample_weight and parameters, state after refusals
def fitted_state(clf: MIUnbiasedClassifier) -> dict[str, Any]:
    return {k: v for k, v in vars(clf).items() if k.endswith("_") or k == "_n_features_out"}


@pytest.fixture(scope="module")
def fitted_tiny() -> MIUnbiasedClassifier:
    return must_work(
        lambda: MIUnbiasedClassifier(**TINY).fit(
            base_X(12), base_y(12), sensitive_features=base_sensitive(12)
        )
    )


def check_fit_keeps_state_when_refused(
    fitted: MIUnbiasedClassifier, params: dict[str, Any], fit_kwargs: dict[str, Any], n: int,
    *names: str,
) -> None:  # fmt: skip
    """Refit a copy of ``fitted``; a refusal must name one of ``names`` and change nothing.

    A refused call is then made on an unfitted estimator too, which must stay unfitted.
    """
    X, y, c = base_X(n), base_y(n), base_sensitive(n)
    clf = copy.deepcopy(fitted).set_params(**params)
    before, proba = fitted_state(clf), must_work(lambda: clf.predict_proba(X))
    fitted_now, _ = outcome(lambda: clf.fit(X, y, sensitive_features=c, **fit_kwargs), *names)
    if fitted_now:
        assert must_work(lambda: clf.predict(X)).shape == (n,)
        return
    after = fitted_state(clf)
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    np.testing.assert_array_equal(must_work(lambda: clf.predict_proba(X)), proba)
    fresh = clone(MIUnbiasedClassifier(**TINY)).set_params(**params)
    refused, _ = outcome(lambda: fresh.fit(X, y, sensitive_features=c, **fit_kwargs), *names)
    assert not refused and fitted_state(fresh) == {}
    with pytest.raises(NotFittedError):
        fresh.predict(X)


@st.composite
def sample_weights(draw: st.DrawFn, n: int) -> Any:
    """Any container, dtype and length (``fuzzed``), or numbers with one flaw, or none."""
    kind = draw(st.sampled_from(["fuzzed", "fuzzed", "negative", "zeros", "nan", "inf", "ok"]))
    if kind == "fuzzed":
        return draw(fuzzed(n, "1d"))
    weight = np.array(draw(st.lists(_finite, min_size=n, max_size=n)), dtype=float)
    weight = np.abs(weight) + draw(st.sampled_from([0.0, 1.0]))
    row = draw(st.integers(0, n - 1))
    if kind == "zeros":
        weight[:] = 0.0
    elif kind != "ok":
        weight[row] = {"negative": -1.0, "nan": np.nan, "inf": np.inf}[kind]
    return weight.astype(draw(st.sampled_from(["float64", "float32"])))


@fuzz_settings(40)
@given(n=st.integers(2, 20), data=st.data())
def test_fit_with_fuzzed_sample_weight(
    fitted_tiny: MIUnbiasedClassifier, n: int, data: st.DataObject
) -> None:
    """fit works on a fuzzed sample_weight or refuses it naming it, changing nothing."""
    weight = data.draw(sample_weights(n), label="sample_weight")
    check_fit_keeps_state_when_refused(
        fitted_tiny, {}, {"sample_weight": weight}, n, "sample_weight"
    )


#: values, valid and not, of the parameters fuzzed (never an lr so large it diverges)
PARAMETER_VALUES: dict[str, list[Any]] = {
    "hidden_units": [(), (3,), (0,), (2, -1), (2.5,), "4", (True,)],
    "penalty__hidden": [(), (3,), (-3,), (0, 2), (1.5,)],
    "embedding_dim": [0, 1, 3, -2, 2.5],
    "batch_size": [0, 1, 2, 5, -3],
    "penalty__batch_size": [None, 1, 3, 50, 0],
    "penalty__bank_size": ["auto", 1, 2, 8, "big"],
    "penalty__steps": [0, 1, 2, "auto", -1],
    "mi_weight": [0.0, 0.5, 3.0, -1.0, np.nan],
    "lr": [1e-3, 1e-2, 0.0, -1.0, np.nan],
    "max_epochs": [0, 1, 2],
    "class_weight": [None, "balanced", {0: 1.0, 1: 3.0}, {0: -1.0, 1: 1.0}, {5: 1.0}, "fair"],
    "criterion": ["demographic_parity", "equal_opportunity", "equalized_odds", "parity"],
    "pos_label": [None, 0, 1, 7],
    "mi_update": ["joint", "separate", "both"],
    "penalty__sampling": ["bank", "fresh", "none"],
    "penalty__warmup_steps": [0, 2, -1],
}


@fuzz_settings(40)
@given(
    n=st.integers(4, 20),
    params=st.sets(st.sampled_from(sorted(PARAMETER_VALUES)), min_size=1, max_size=3).flatmap(
        lambda keys: st.fixed_dictionaries(
            {key: st.sampled_from(PARAMETER_VALUES[key]) for key in keys}
        )
    ),
)
def test_fit_with_fuzzed_parameters(
    fitted_tiny: MIUnbiasedClassifier, n: int, params: dict[str, Any]
) -> None:
    """fit works with fuzzed parameters or refuses naming one of them, changing nothing.

    A setting of the penalty (``penalty__steps``) is named as the penalty's messages name it
    (``steps``).
    """
    settings = [name.removeprefix("penalty__") for name in params if name.startswith("penalty__")]
    check_fit_keeps_state_when_refused(fitted_tiny, params, {}, n, *params, *settings)
