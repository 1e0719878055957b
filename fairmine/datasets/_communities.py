"""The UCI Communities and Crime data, bundled with the package."""

from __future__ import annotations

import gzip
from importlib import resources

import pandas as pd
from sklearn.utils import Bunch

__all__ = ["load_communities"]

_TARGET = "ViolentCrimesPerPop"
_SENSITIVE = "racepctblack"

#: UCI's description calls these "not predictive" (identifiers, the name and a CV fold).
_NON_PREDICTIVE = ["state", "county", "community", "communityname", "fold"]

#: The 22 police (LEMAS survey) columns that UCI's ``communities.names`` lists as missing for
#: 1675 of the 1994 communities (84 %): every column missing for more than half of the rows.
_MOSTLY_MISSING = [
    "LemasSwornFT",
    "LemasSwFTPerPop",
    "LemasSwFTFieldOps",
    "LemasSwFTFieldPerPop",
    "LemasTotalReq",
    "LemasTotReqPerPop",
    "PolicReqPerOffic",
    "PolicPerPop",
    "RacialMatchCommPol",
    "PctPolicWhite",
    "PctPolicBlack",
    "PctPolicHisp",
    "PctPolicAsian",
    "PctPolicMinor",
    "OfficAssgnDrugUnits",
    "NumKindsDrugsSeiz",
    "PolicAveOTWorked",
    "PolicCars",
    "PolicOperBudg",
    "LemasPctPolicOnPatr",
    "LemasGangUnitDeploy",
    "PolicBudgPerPop",
]

_DESCR = """\
Communities and Crime (UCI)
===========================

1994 US communities described by socio-economic attributes of the 1990 US
Census, police data of the 1990 LEMAS survey and the violent crimes of the
1995 FBI UCR. The target, ``ViolentCrimesPerPop``, is the number of violent
crimes (murder, rape, robbery, assault) per population. UCI normalised every
column to [0, 1] by equal-interval binning (values beyond 3 standard
deviations clipped to 0 or 1).

Columns dropped (27 of the file's 128, which leaves 100 features): the 5 that
UCI's description calls not predictive (state, county, community,
communityname, fold) and the 22 police (LEMAS) columns that it lists as missing
for 1675 of the 1994 communities (the rule: a column missing for more than
half of the rows is dropped; no other column is). In the bundled copy those
missing values are written 0, not ``?`` (the loader reads ``?`` as missing
too). The one remaining missing value UCI lists, ``OtherPerCap`` of one
community, is also written 0 and is kept as it is.

Sensitive attribute: ``racepctblack``, the share of Black residents (kept
among the features, as in the peers' benchmarks), and its usual binarisation,
above the median (0.06): 970 communities.

Source: Redmond, M. (2009). Communities and Crime. UCI Machine Learning
Repository. https://doi.org/10.24432/C53W3X
Licence: Creative Commons Attribution 4.0 International (CC BY 4.0).
The bundled file is the CSV with a header row, gzipped.
"""


def load_communities() -> Bunch:
    """Load the Communities and Crime data that ships with fairmine (no download).

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with attributes:

        data : pandas.DataFrame of shape (1994, 100)
            The features, float64 in [0, 1] (UCI's normalisation); the 5
            non-predictive columns and the 22 mostly missing police columns
            are dropped (see ``DESCR``).
        target : pandas.Series of shape (1994,)
            ``ViolentCrimesPerPop``, in [0, 1].
        sensitive_features : pandas.Series of shape (1994,)
            ``black_share_above_median``: 1 where ``racepctblack`` exceeds
            its median (0.06), else 0.
        sensitive_continuous : pandas.Series of shape (1994,)
            ``racepctblack`` itself, the share of Black residents.
        frame : pandas.DataFrame of shape (1994, 101)
            ``data`` and ``target`` together.
        feature_names : list of str
            The 100 column names.
        dropped_columns : list of str
            The 27 columns left out, non-predictive ones first.
        DESCR : str
            Description, source and licence.

    Examples
    --------
    >>> from fairmine.datasets import load_communities
    >>> communities = load_communities()
    >>> communities.data.shape
    (1994, 100)
    >>> int(communities.sensitive_features.sum())
    970
    >>> round(float(communities.target.mean()), 3)
    0.238
    """
    path = resources.files("fairmine.datasets") / "data" / "communities.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as handle:
        raw_frame = pd.read_csv(handle, na_values=["?"], keep_default_na=False)
    dropped = [*_NON_PREDICTIVE, *_MOSTLY_MISSING]
    data = raw_frame.drop(columns=[*dropped, _TARGET]).astype("float64")
    target = raw_frame[_TARGET].astype("float64")
    share = data[_SENSITIVE].copy()
    above = (share > share.median()).astype("int64").rename("black_share_above_median")
    return Bunch(
        data=data,
        target=target,
        sensitive_features=above,
        sensitive_continuous=share,
        frame=pd.concat([data, target], axis=1),
        feature_names=list(data.columns),
        dropped_columns=dropped,
        DESCR=_DESCR,
    )
