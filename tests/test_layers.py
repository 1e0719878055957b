"""The package's layers: a module imports only from the layers below its own.

The layers, bottom first, are those of DEVELOPERS.md. A unit is a module or a
subpackage (``fairmine/mi/``, ``fairmine/_engine/``, ``fairmine/datasets/``,
``fairmine/experiments/``): the modules inside a unit may import each other
freely. The estimator's path reads face -> engine -> penalties: ``_classifier``
and ``_regressor`` sit on their shared base ``_estimator``, which sits above
``_engine``, which sits above ``mi``.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fairmine"

LAYERS = (
    ("foundations", {"exceptions", "_validation", "_devices", "_degenerate", "_mlp"}),
    ("building blocks and data", {"networks", "datasets"}),
    ("encoding", {"_sensitive", "_bias_weights", "_target"}),
    ("penalties", {"mi"}),
    ("engine", {"_engine"}),
    ("shared face", {"_estimator"}),
    ("face", {"_classifier", "_regressor"}),
    ("representation step", {"_representation"}),
    ("scikit-learn tools", {"metrics", "model_selection"}),
    ("package", {"__init__"}),
    ("figures", {"plotting"}),
    ("protocols", {"experiments"}),
    ("commands", {"_sweep_command"}),
    ("command line", {"cli"}),
)
LAYER_OF = {unit: depth for depth, (_, units) in enumerate(LAYERS) for unit in units}


def _unit(parts: list[str]) -> str:
    """The unit of a module path inside the package (``["mi", "_critic"]`` -> ``"mi"``)."""
    return parts[0] if parts else "__init__"


def _module_parts(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts


def _imported_units(path: Path) -> set[str]:
    """The package units a module imports (relative or absolute ``fairmine`` imports)."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif (node.module or "").split(".")[0] == "fairmine":
                target = node.module.split(".")[1:]
            else:
                continue
            if target:
                units.add(_unit(target))
            else:  # "from . import name": a module of the package, or the package itself
                for alias in node.names:
                    is_module = (PACKAGE / alias.name).is_dir() or (
                        PACKAGE / f"{alias.name}.py"
                    ).exists()
                    units.add(alias.name if is_module else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "fairmine":
                    units.add(_unit(parts[1:]))
    return units


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_face_sits_on_the_engine_which_sits_on_the_penalties():
    """The estimators import their base, the base the engine, the engine the penalties.

    Never the other way.
    """
    for estimator in ("_classifier", "_regressor"):
        assert LAYER_OF[estimator] > LAYER_OF["_estimator"]
        assert "_estimator" in _imported_units(PACKAGE / f"{estimator}.py")
    assert LAYER_OF["_estimator"] > LAYER_OF["_engine"] > LAYER_OF["mi"]
    assert "_engine" in _imported_units(PACKAGE / "_estimator.py")
    engine = {unit for path in (PACKAGE / "_engine").glob("*.py") for unit in _imported_units(path)}
    assert "mi" in engine
    assert engine.isdisjoint({"_estimator", "_classifier", "_regressor"})


def test_every_unit_of_the_package_has_a_layer():
    units = {_unit(_module_parts(path)) for path in MODULES}
    assert units - set(LAYER_OF) == set(), "place the new module in a layer (and DEVELOPERS.md)"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_import_only_from_the_layers_below(path):
    unit = _unit(_module_parts(path))
    upward = {
        other
        for other in _imported_units(path) - {unit}
        if LAYER_OF.get(other, -1) >= LAYER_OF[unit]
    }
    assert upward == set(), f"{unit} ({LAYERS[LAYER_OF[unit]][0]}) imports {sorted(upward)}"


def test_the_checker_sees_relative_absolute_and_package_imports(tmp_path, monkeypatch):
    """A control: each import form that the layer test must catch is caught."""
    package = tmp_path / "fairmine"
    (package / "mi").mkdir(parents=True)
    (package / "_engine").mkdir()
    source = package / "mi" / "_critic.py"
    source.write_text(
        "from .._engine.net import MINet\nimport fairmine._estimator\nfrom .. import metrics\n"
        "from . import _bounds\n"
    )
    (package / "metrics.py").write_text("")
    monkeypatch.setattr(f"{__name__}.PACKAGE", package)
    assert _imported_units(source) == {"_engine", "_estimator", "metrics", "mi"}
