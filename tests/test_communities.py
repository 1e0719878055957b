import csv
import gzip
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from fairmine.datasets import load_communities
from fairmine.datasets._communities import _MOSTLY_MISSING, _NON_PREDICTIVE

#: the copy the data were bundled from (absent in CI), and its size and sha256
ORIGINAL = Path("/work/shared/data/communities.csv")
ORIGINAL_DIGEST = (1102568, "260bb2fbe8d45b56483c1a1cac246ab623459c464f6f798abc3f3984efb3731d")


def _raw_rows():
    """The bundled file's rows, read with gzip and csv only (not the loader)."""
    path = resources.files("fairmine.datasets").joinpath("data", "communities.csv.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as handle:
        return list(csv.reader(handle))


def test_bundled_file_is_the_original_gzipped():
    if not ORIGINAL.exists():
        pytest.skip("the original copy is not on this machine")
    text = "\n".join(",".join(row) for row in _raw_rows()) + "\n"
    data = text.encode("ascii")
    assert (len(data), hashlib.sha256(data).hexdigest()) == ORIGINAL_DIGEST


def test_load_communities_shapes_and_columns():
    bunch = load_communities()
    header = _raw_rows()[0]
    assert len(header) == 128
    assert bunch.data.shape == (1994, 100)
    assert bunch.frame.shape == (1994, 101)
    assert bunch.target.name == "ViolentCrimesPerPop"
    assert bunch.dropped_columns == _NON_PREDICTIVE + _MOSTLY_MISSING
    assert len(_MOSTLY_MISSING) == 22
    assert set(bunch.feature_names) == set(header) - set(bunch.dropped_columns) - {
        bunch.target.name
    }
    assert not bunch.data.isna().any().any()
    assert ((bunch.data >= 0) & (bunch.data <= 1)).all().all()


def test_dropped_police_columns_are_the_missing_ones():
    """In the bundled copy the 1675 missing rows of each LEMAS column are written 0."""
    rows = _raw_rows()
    header, body = rows[0], rows[1:]
    columns = {
        name: np.array([float(row[i]) for row in body])
        for i, name in enumerate(header)
        if name in _MOSTLY_MISSING
    }
    missing = np.all([values == 0 for values in columns.values()], axis=0)
    assert missing.sum() == 1675  # UCI's count of communities without LEMAS data
    for values in columns.values():
        assert (values == 0).mean() > 0.5


def test_sensitive_attribute_is_the_black_share_above_its_median():
    bunch = load_communities()
    share = bunch.sensitive_continuous
    assert share.name == "racepctblack"
    assert np.array_equal(share, bunch.data["racepctblack"])
    assert float(share.median()) == pytest.approx(0.06)
    assert np.array_equal(bunch.sensitive_features, (share > 0.06).astype(int))
    assert int(bunch.sensitive_features.sum()) == 970
    # the crime rate differs between the groups: a fair regressor has work to do
    means = bunch.target.groupby(bunch.sensitive_features).mean()
    assert means[1] - means[0] > 0.2
