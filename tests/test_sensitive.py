import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fairmine._sensitive import encode_sensitive_features, warn_if_constant
from fairmine.exceptions import FairmineWarning, UninformativeSensitiveFeaturesWarning


def test_boolean_series_is_one_column_of_zero_one():
    encoded = encode_sensitive_features(pd.Series([True, False, True]))
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, [[1], [0], [1]])


def test_strings_are_one_hot_encoded():
    encoded = encode_sensitive_features(["a", "b", "c", "a"])
    assert encoded.shape == (4, 3)
    np.testing.assert_array_equal(encoded.sum(1), 1)


def test_integers_are_categorical():
    encoded = encode_sensitive_features(np.array([3, 5, 7, 3]))
    assert encoded.shape == (4, 3)


def test_floats_are_standardised():
    encoded = encode_sensitive_features([20.0, 30.0, 40.0, 50.0])
    assert encoded.shape == (4, 1)
    assert encoded.mean() == pytest.approx(0, abs=1e-6)
    assert encoded.std() == pytest.approx(1, abs=1e-6)


def test_binary_code_matrix_passes_through():
    code = np.zeros((5, 24), dtype=int)
    code[np.arange(5), [0, 3, 8, 9, 23]] = 1
    encoded = encode_sensitive_features(code)
    np.testing.assert_array_equal(encoded, code)


def test_several_columns_of_mixed_types_are_encoded_side_by_side():
    frame = pd.DataFrame({"sex": ["f", "m", "f", "m"], "age": [21.0, 35.0, 50.0, 44.0]})
    encoded = encode_sensitive_features(frame)
    assert encoded.shape == (4, 2)
    np.testing.assert_array_equal(encoded[:, 0], [0, 1, 0, 1])


def test_encoding_override():
    assert encode_sensitive_features([1, 2, 3], encoding="continuous").shape == (3, 1)
    assert encode_sensitive_features([0.5, 1.5, 0.5], encoding="categorical").shape == (3, 1)
    np.testing.assert_array_equal(
        encode_sensitive_features([2, 4, 6], encoding="passthrough").ravel(), [2, 4, 6]
    )


def test_pandas_index_is_ignored():
    encoded = encode_sensitive_features(pd.Series(["x", "y"], index=[10, 3]))
    np.testing.assert_array_equal(encoded.ravel(), [0, 1])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, np.nan, 2.0], "missing values"),
        (["a", None, "b"], "missing values"),
        ([1.0, np.inf, 2.0], "infinite"),
        ([], "empty"),
        (np.zeros((2, 2, 2)), "1-D or 2-D"),
        (5, "1-D or 2-D"),
    ],
)
def test_bad_input_raises_a_clear_error(values, message):
    with pytest.raises(ValueError, match=f"sensitive_features.*{message}"):
        encode_sensitive_features(values)


def test_non_numeric_with_continuous_encoding_is_an_error():
    with pytest.raises(ValueError, match="non-numeric"):
        encode_sensitive_features(["a", "b"], encoding="continuous")


def test_unknown_encoding_is_an_error():
    with pytest.raises(ValueError, match="sensitive_encoding must be one of"):
        encode_sensitive_features([0, 1], encoding="ordinal")


def test_constant_attribute_warns():
    encoded = encode_sensitive_features(["a", "a", "a"])
    with pytest.warns(UninformativeSensitiveFeaturesWarning, match="single value.*what happens"):
        assert warn_if_constant(encoded, "C", "what happens.")
    assert not warn_if_constant(encode_sensitive_features(["a", "b", "a"]), "C", "")


def test_many_categories_warn_that_the_attribute_may_be_continuous():
    with pytest.warns(FairmineWarning, match="continuous"):
        encode_sensitive_features(np.arange(40))


_containers = st.sampled_from(["list", "numpy", "series", "frame"])


def _wrap(values: np.ndarray, container: str):
    if container == "list":
        return values.tolist()
    if container == "series":
        return pd.Series(values)
    if container == "frame":
        return pd.DataFrame({"attribute": values})
    return values


@settings(max_examples=60, deadline=None)
@given(
    codes=hnp.arrays(np.int64, st.integers(2, 40), elements=st.integers(0, 3)),
    kind=st.sampled_from(["int", "str", "bool"]),
    container=_containers,
)
def test_categorical_encoding_is_one_hot_in_every_container(codes, kind, container):
    values = {"int": codes, "str": codes.astype(str), "bool": codes % 2 == 0}[kind]
    assume(len(np.unique(values)) >= 2)  # one value warns; tested separately
    n_values = len(np.unique(values))
    encoded = encode_sensitive_features(_wrap(values, container))
    assert encoded.shape[0] == len(values)
    assert np.isin(encoded, (0, 1)).all()
    if n_values == 2:
        assert encoded.shape[1] == 1
    else:
        assert encoded.shape[1] == n_values
        np.testing.assert_array_equal(encoded.sum(1), 1)
    # rows with the same attribute value get the same code, different values differ
    _, inverse = np.unique(values, return_inverse=True)
    _, code_inverse = np.unique(encoded, axis=0, return_inverse=True)
    assert len(np.unique(np.c_[inverse, code_inverse.ravel()], axis=0)) == n_values


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        st.integers(2, 40),
        elements=st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)),
    ),
    container=_containers,
)
def test_float_encoding_is_standardised_in_every_container(values, container):
    if np.ptp(values) == 0:
        values = np.r_[values, values[0] + 1.0]
    encoded = encode_sensitive_features(_wrap(values, container))
    assert encoded.shape == (len(values), 1)
    assert np.isfinite(encoded).all()
    assert abs(float(encoded.mean())) < 1e-3
    expected = (values - values.mean()) / values.std()
    np.testing.assert_allclose(encoded[:, 0], expected, rtol=1e-4, atol=1e-4)
