"""The architecture as checked facts: layer contracts, no import cycles, a small public API."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_layer_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_no_import_cycles_between_modules():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("raretune", exclude_type_checking_imports=True)  # annotations only
    cycles = []
    for module in sorted(graph.modules):
        if module == "raretune":  # the package's __init__ re-exports the workflow
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != "raretune" and module in graph.find_upstream_modules(imported):
                cycles.append(f"{module} -> {imported}")
    assert not cycles, cycles[:10]


def test_public_api_is_the_workflow():
    import raretune

    assert set(raretune.__all__) == {
        "ConfigError", "DataError", "RareTuneClassifier", "RaretuneError", "RunStateError", "RunConfig", "RunResult", "__version__",
        "load_run", "predict", "run",
    }
    for name in raretune.__all__:
        assert getattr(raretune, name) is not None
    assert callable(raretune.run) and callable(raretune.predict)


def test_importing_raretune_loads_no_tensorflow():
    code = "import sys, raretune, raretune.cli, raretune.remedies; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_inspecting_a_csv_loads_no_tensorflow(tmp_path):
    from tests.conftest import make_frame

    path = tmp_path / "rows.csv"
    make_frame(n=200).to_csv(path, index=False)
    code = ("import sys; from raretune.cli import main; "
            f"status = main(['inspect', {str(path)!r}, '--target', 'label']); "
            "print(status, 'tensorflow' in sys.modules, 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "0 False False"
