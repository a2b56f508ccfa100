"""The architecture holds (docs/DESIGN.md section 5): import-linter's contracts in pyproject.toml
(layers, no cycles), a deliberate upward import breaks them, and no module or function outgrows
the size a reader takes in at once."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "supportscope"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 100


def lint_imports(src: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run import-linter with the project's contracts on the package under ``src``."""
    code = ("import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command(['--config', 'pyproject.toml', '--no-cache']))")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})


def test_layer_and_cycle_contracts_are_kept():
    r = lint_imports(ROOT / "src", ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


@pytest.mark.parametrize("module, upward", [
    ("stats/passk.py", "import supportscope.analysis.labels"),             # stats -> analysis
    ("store/counts.py", "from supportscope.pipeline import analyse"),      # store -> pipeline
    ("analysis/labels.py", "import supportscope.scale.select"),            # a sibling in the same layer
])
def test_an_upward_import_breaks_the_layers(tmp_path, module, upward):
    """Copy the package, add one import against the rule, and the same check fails naming it."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "supportscope", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "supportscope" / module
    target.write_text(target.read_text() + f"\n{upward}  # deliberate: against the layer rule\n")
    r = lint_imports(src, tmp_path)
    assert r.returncode != 0, r.stdout
    assert "BROKEN" in r.stdout and "supportscope." + module[:-3].replace("/", ".") in r.stdout


def _python_files():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _python_files()
            if (n := p.read_text().count("\n")) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): {long}"


def test_no_function_over_100_lines():
    long = {}
    for p in _python_files():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_records_is_only_a_deprecated_shim():
    """The old package still imports (one release), warns, and nothing else mentions it."""
    r = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", "import supportscope.records"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "supportscope.records is deprecated" in r.stderr
    from importlib import reload

    with pytest.warns(DeprecationWarning, match="supportscope.io"):
        import supportscope.records as records

        reload(records)
    from supportscope.io import load_counts
    from supportscope.store import RunStore

    assert records.load_counts is load_counts and records.RunStore is RunStore
    mentions = [str(p.relative_to(PACKAGE)) for p in _python_files() if "records" in p.read_text()]
    assert mentions == ["records/__init__.py"], mentions
