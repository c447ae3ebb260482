"""The validation notebooks under notebooks/: stored without outputs, a `parameters` cell, no logic of their own,
and each executed end to end with papermill against the shared built lake (a failing cell fails the test).
Executed notebooks are kept under test-artifacts/notebooks/."""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
ARTIFACTS = REPO / "test-artifacts" / "notebooks"
ALLOWED_IMPORTS = ("visionlake", "IPython", "pandas")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _code(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> str:
    """A kernelspec named python3 that runs this interpreter (the .venv's), found first through JUPYTER_PATH
    for this module only: nothing is registered for the user or the system, and a python3 kernel the machine
    may have elsewhere is not used."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager

    root = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(root / "kernels" / "python3")
    saved = {name: os.environ.get(name) for name in ("JUPYTER_PATH", "IPYTHONDIR", "JUPYTER_PLATFORM_DIRS")}
    os.environ.update({"JUPYTER_PATH": str(root), "IPYTHONDIR": str(root / "ipython"), "JUPYTER_PLATFORM_DIRS": "1"})
    try:
        assert KernelSpecManager().get_kernel_spec("python3").argv[0] == sys.executable
        yield "python3"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _execute(notebook: Path, out: Path, lake: str, kernel: str):
    import papermill

    out.parent.mkdir(parents=True, exist_ok=True)
    return papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters={"lake": lake, "env": "local"},
        kernel_name=kernel,
        cwd=str(REPO),
        progress_bar=False,
        execution_timeout=300,
    )


def test_there_is_one_notebook_per_source():
    sources = sorted(p.parent.name for p in (REPO / "lib" / "visionlake" / "sources").glob("*/__init__.py"))

    assert sources == ["alpr", "detections", "face_recognition", "face_validation"]
    assert [p.stem for p in NOTEBOOKS] == sources


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]

    assert code
    assert [(c["outputs"], c["execution_count"]) for c in code] == [([], None)] * len(code)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_takes_the_lake_and_env_as_papermill_parameters(path):
    tagged = [c for c in _cells(path) if "parameters" in c["metadata"].get("tags", [])]

    assert len(tagged) == 1
    values = {t.targets[0].id: ast.literal_eval(t.value) for t in ast.parse(_code(tagged[0])).body}
    assert values == {"lake": "lake", "env": "local"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_no_logic_of_its_own(path):
    """Calls into visionlake and displays: no function or class, imports of visionlake (plus display helpers)
    only, and the SOURCE it validates is the notebook's name."""
    trees = [ast.parse(_code(c)) for c in _cells(path) if c["cell_type"] == "code"]
    nodes = [n for tree in trees for n in ast.walk(tree)]
    imported = [a.name for n in nodes if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module for n in nodes if isinstance(n, ast.ImportFrom)]
    sources = [
        n.value.value
        for n in nodes
        if isinstance(n, ast.Assign) and [getattr(t, "id", None) for t in n.targets] == ["SOURCE"]
    ]

    assert not [n for n in nodes if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)]
    assert sorted({m.split(".")[0] for m in imported} - set(ALLOWED_IMPORTS)) == []
    assert sources == [path.stem]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_end_to_end_on_the_built_lake(path, built_lake, kernel):
    out = ARTIFACTS / path.name

    executed = _execute(path, out, str(built_lake), kernel)

    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code)
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    reconciliation = next(c for c in code if "validate.reconciliation(" in _code(c))
    shown = "".join(o["data"]["text/plain"] for o in reconciliation["outputs"] if "data" in o)
    bronze = {
        "alpr": "bronze.results 120",
        "detections": "bronze.frames_raw 3000",
        "face_recognition": "bronze.request_lines 3000",
        "face_validation": "bronze.documents 300",
    }[path.stem]
    assert bronze in shown
    assert "True" in shown and "False" not in shown
    references = [c for c in code if "validate.references(" in _code(c)]  # detections: alerts' evidence frames
    shown = "".join(o["data"]["text/plain"] for c in references for o in c["outputs"] if "data" in o)
    assert "False" not in shown and ("True" in shown) == bool(references)
    assert out.is_file()


def test_a_failing_cell_fails_the_run_with_visionlake_s_message(tmp_path, kernel):
    from papermill.exceptions import PapermillExecutionError

    missing = tmp_path / "no-lake-here"

    with pytest.raises(PapermillExecutionError) as caught:
        _execute(REPO / "notebooks" / "alpr.ipynb", ARTIFACTS / "alpr-missing-lake.ipynb", str(missing), kernel)

    assert caught.value.ename == "LakeError"
    assert caught.value.evalue == f"no tables in {missing}: run `visionlake run SOURCE --input ... --lake ...` first"
