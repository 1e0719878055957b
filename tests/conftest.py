"""Shared fixtures: small synthetic problems and the preprocessed German credit data."""

import contextlib

import numpy as np
import pytest
import torch

from fairmine.datasets import load_german
from fairmine.experiments import german_preprocessor


@pytest.fixture(scope="session", autouse=True)
def _single_thread():
    """Tests are timed on 2 cores; one torch thread per process is the fastest there.

    Session-wide, so that module- and session-scoped fixtures that fit models get it too.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_biased_data(n: int, seed: int = 0):
    """Binary task where one input column reveals the group and correlates with y."""
    rng = np.random.RandomState(seed)
    group = rng.randint(0, 2, n)
    signal = rng.normal(size=n)
    y = ((signal + 0.8 * group + rng.normal(scale=0.5, size=n)) > 0.4).astype(int)
    X = np.c_[signal, group + rng.normal(scale=0.1, size=n), rng.normal(size=(n, 2))]
    return X.astype(np.float32), y, group


@pytest.fixture(scope="session")
def biased_data():
    """``make_biased_data(300)``, read-only."""
    arrays = make_biased_data(300)
    for array in arrays:
        array.setflags(write=False)  # shared by the whole session: tests copy before editing
    return arrays


@pytest.fixture(scope="session")
def german_split():
    """One 70/30 split of German credit, preprocessed as in the paper's protocol."""
    german = load_german()
    X, y = german.data, german.target.to_numpy()
    young = (X["age"] < 25).to_numpy()
    rng = np.random.RandomState(0)
    order = rng.permutation(len(y))
    train, test = order[:700], order[700:]
    prep = german_preprocessor().fit(X.iloc[train])
    return {
        "X_train": prep.transform(X.iloc[train]),
        "X_test": prep.transform(X.iloc[test]),
        "y_train": y[train],
        "y_test": y[test],
        "young_train": young[train],
        "young_test": young[test],
    }


#: the fresh critic of a brief audit: at most this many steps (estimate_mi's defaults make 600
#: or more, to patience)
BRIEF_AUDIT_STEPS = 100


@contextlib.contextmanager
def brief_mi_audits():
    """Make the audits of sweeps, reports and protocols train their fresh critic briefly.

    ``mi_figures`` audits every fit with ``estimate_mi`` (600 critic steps or more), which costs
    more than the fits of a plumbing test. Inside this context the same ``estimate_mi`` runs
    with ``max_steps=BRIEF_AUDIT_STEPS``: the audit is still computed, tabulated and reported,
    but is a cruder number. Only for tests whose every audit runs in this process (not in loky,
    Dask or Ray workers, or a subprocess, whose audits would then differ from these).
    """
    from fairmine.experiments import _mi_figures

    full = _mi_figures.make_mi_scorer

    def brief(**estimate_mi_kwargs):
        return full(**{"max_steps": BRIEF_AUDIT_STEPS, **estimate_mi_kwargs})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_mi_figures, "make_mi_scorer", brief)
        yield


@pytest.fixture
def brief_mi_audit():
    """``brief_mi_audits()`` for one test."""
    with brief_mi_audits():
        yield


def write_mnist_npz(path, n_train: int, n_test: int):
    """Write a tiny MNIST ``.npz`` (random 28x28 uint8 digits, labels 0-9 in turn); its path."""
    rng = np.random.RandomState(0)
    np.savez(
        path,
        x_train=rng.randint(0, 256, size=(n_train, 28, 28)).astype(np.uint8),
        y_train=np.arange(n_train) % 10,
        x_test=rng.randint(0, 256, size=(n_test, 28, 28)).astype(np.uint8),
        y_test=np.arange(n_test) % 10,
    )
    return path
