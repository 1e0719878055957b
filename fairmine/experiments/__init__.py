"""The paper's evaluation protocols, shared by the ``fairmine`` command and the benchmarks."""

from ._german import (
    GERMAN_PAPER_RESULTS,
    german_preprocessor,
    run_german_protocol,
    summarise_runs,
)

__all__ = [
    "GERMAN_PAPER_RESULTS",
    "german_preprocessor",
    "run_german_protocol",
    "summarise_runs",
]
