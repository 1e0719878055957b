import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from fairmine.datasets import load_german


def test_load_german_shapes_and_types():
    german = load_german()
    assert isinstance(german, Bunch)
    assert german.data.shape == (1000, 20)
    assert isinstance(german.target, pd.Series)
    assert german.target.value_counts().to_dict() == {1: 700, 0: 300}
    assert german.frame.shape == (1000, 21)
    assert list(german.feature_names) == list(german.data.columns)
    assert list(german.target_names) == ["bad", "good"]


def test_load_german_decodes_categories_and_keeps_age_in_years():
    data = load_german().data
    assert data["age"].between(19, 75).all()
    assert (data["age"] < 25).sum() == 149
    assert data["checking_account"].dtype == "category"
    assert not data["checking_account"].astype(str).str.match(r"A\d+").any()
    assert set(data["foreign_worker"]) == {"yes", "no"}
    numeric = data.select_dtypes("number").columns
    assert len(numeric) == 7
    assert set(numeric) == {
        "duration_months",
        "credit_amount",
        "installment_rate",
        "residence_since",
        "age",
        "existing_credits",
        "people_liable",
    }


def test_load_german_matches_the_raw_file():
    from importlib import resources

    raw = pd.read_csv(
        resources.files("fairmine.datasets").joinpath("data/german.data"), sep=" ", header=None
    )
    german = load_german()
    np.testing.assert_array_equal(german.data["age"], raw[12])
    np.testing.assert_array_equal(german.data["credit_amount"], raw[4])
    np.testing.assert_array_equal(german.target, (raw[20] == 1).astype(int))


def test_descr_names_source_and_licence():
    descr = load_german().DESCR
    assert "UCI" in descr
    assert "CC BY 4.0" in descr
