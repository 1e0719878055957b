"""The paper's evaluation protocols, shared by the ``fairmine`` command and the benchmarks."""

from ._colored_mnist import (
    COLORED_MNIST_PAPER_RESULTS,
    COLORED_MNIST_QUICK_SETTINGS,
    COLORED_MNIST_REFERENCES,
    COLORED_MNIST_SETTINGS,
    ProtocolModel,
    colored_mnist_models,
    run_colored_mnist_protocol,
)
from ._encoding import tabular_preprocessor
from ._german import (
    GERMAN_MI_WEIGHT,
    GERMAN_PAPER_RESULTS,
    fairness_scores,
    german_models,
    german_preprocessor,
    run_german_protocol,
    summarise_runs,
)
from ._imdb import IMDB_MI_WEIGHTS, IMDB_PAPER_RESULTS, run_imdb_protocol
from ._mi_figures import mi_figures
from ._reference import REFERENCE_SETTINGS, reference_classifier
from ._sweep import (
    BUNDLED_TABLES,
    SweepGrid,
    SweepInputError,
    SweepTable,
    check_folds,
    degenerate_erm_note,
    load_sweep_table,
    run_sweep,
    summarise_sweep,
    write_sweep,
)

__all__ = [
    "BUNDLED_TABLES",
    "COLORED_MNIST_PAPER_RESULTS",
    "COLORED_MNIST_QUICK_SETTINGS",
    "COLORED_MNIST_REFERENCES",
    "COLORED_MNIST_SETTINGS",
    "GERMAN_MI_WEIGHT",
    "GERMAN_PAPER_RESULTS",
    "IMDB_MI_WEIGHTS",
    "IMDB_PAPER_RESULTS",
    "REFERENCE_SETTINGS",
    "ProtocolModel",
    "SweepGrid",
    "SweepInputError",
    "SweepTable",
    "check_folds",
    "colored_mnist_models",
    "degenerate_erm_note",
    "fairness_scores",
    "german_models",
    "german_preprocessor",
    "load_sweep_table",
    "mi_figures",
    "reference_classifier",
    "run_colored_mnist_protocol",
    "run_german_protocol",
    "run_imdb_protocol",
    "run_sweep",
    "summarise_runs",
    "summarise_sweep",
    "tabular_preprocessor",
    "write_sweep",
]
