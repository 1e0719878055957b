"""Searches and sweeps on Dask and Ray give exactly the sequential results (issue 15).

Both engines run the fits in worker processes with one torch thread each (Dask's nanny and Ray
start their workers with OMP_NUM_THREADS=1, which torch reads); the sequential runs use the one
thread that conftest sets, so every fit computes the same floating-point operations in the same
order, and the results must agree bit for bit.
"""

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from conftest import make_biased_data
from sklearn.model_selection import GridSearchCV

from fairmine import MIUnbiasedClassifier
from fairmine.experiments import SweepGrid, SweepTable, run_sweep
from fairmine.metrics import equal_opportunity_scorer, make_mi_scorer
from fairmine.mi import DonskerVaradhan

pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

FAST = {"max_epochs": 3, "lr": 1e-2, "penalty": DonskerVaradhan(steps=2, warmup_steps=5)}


def _search() -> GridSearchCV:
    return GridSearchCV(
        MIUnbiasedClassifier(**FAST),
        {"mi_weight": [0.0, 2.0], "random_state": [0, 1]},
        scoring={
            "accuracy": "accuracy",
            "eo": equal_opportunity_scorer,
            "mi": make_mi_scorer(max_steps=200),
        },
        refit="eo",
        cv=2,
        error_score="raise",
    )


def _scores(cv_results: dict) -> pd.DataFrame:
    """cv_results_ without its wall-clock columns (the only ones that may differ)."""
    return pd.DataFrame(cv_results).drop(
        columns=["mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"]
    )


@pytest.fixture(scope="module")
def data():
    X, y, group = make_biased_data(240, seed=3)
    return X, y, group


@pytest.fixture(scope="module")
def sequential_search(data):
    X, y, group = data
    with sklearn.config_context(enable_metadata_routing=True):
        search = _search().fit(X, y, sensitive_features=group)
    return search


@pytest.fixture(scope="module")
def sweep_table(data):
    X, y, group = data
    return SweepTable(
        X=pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]),
        y=y,
        groups=group.astype(str),
        description="biased synthetic data",
    )


#: ERM and one penalised criterion, the conditional one (the grid searches above put the default
#: demographic-parity penalty on the workers); each fit costs a full audit on the workers
SWEEP_GRID = SweepGrid(
    mi_weights=(2.0,),
    criteria=("equal_opportunity",),
    seeds=(0,),
    folds=2,
    estimator_params=FAST,
)


@pytest.fixture(scope="module")
def sequential_sweep(sweep_table):
    return run_sweep(sweep_table, SWEEP_GRID, n_jobs=1)


def _assert_same_sweep(runs: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        runs.drop(columns="fit_seconds"), expected.drop(columns="fit_seconds"), check_exact=True
    )


# ----------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_workers_run_one_torch_thread(dask_client):
    def threads():
        import torch

        return torch.get_num_threads()

    assert set(dask_client.run(threads).values()) == {1}


def test_grid_search_on_dask_equals_sequential(dask_client, data, sequential_search):
    from distributed import get_task_stream

    X, y, group = data
    with (
        sklearn.config_context(enable_metadata_routing=True),
        joblib.parallel_config(backend="dask", n_jobs=-1),
        get_task_stream(dask_client) as tasks,
    ):
        search = _search().fit(X, y, sensitive_features=group)
    pd.testing.assert_frame_equal(
        _scores(search.cv_results_), _scores(sequential_search.cv_results_), check_exact=True
    )
    np.testing.assert_array_equal(
        search.predict_proba(X), sequential_search.predict_proba(X), strict=True
    )
    # the 8 fits (4 candidates x 2 folds) really ran on the workers, on both of them
    assert len({task["worker"] for task in tasks.data}) == 2


def test_sweep_on_dask_equals_sequential(dask_client, sweep_table, sequential_sweep):
    with joblib.parallel_config(backend="dask", n_jobs=-1):
        runs = run_sweep(sweep_table, SWEEP_GRID)
    _assert_same_sweep(runs, sequential_sweep)


# ------------------------------------------------------------------------ Ray
@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    register_ray()
    yield ray
    ray.shutdown()


def test_grid_search_on_ray_equals_sequential(ray_session, data, sequential_search):
    X, y, group = data
    with (
        sklearn.config_context(enable_metadata_routing=True),
        joblib.parallel_config(backend="ray", n_jobs=2),
    ):
        search = _search().fit(X, y, sensitive_features=group)
    pd.testing.assert_frame_equal(
        _scores(search.cv_results_), _scores(sequential_search.cv_results_), check_exact=True
    )


def test_sweep_on_ray_equals_sequential(ray_session, sweep_table, sequential_sweep):
    with joblib.parallel_config(backend="ray", n_jobs=2):
        runs = run_sweep(sweep_table, SWEEP_GRID)
    _assert_same_sweep(runs, sequential_sweep)
