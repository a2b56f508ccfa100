"""The stats package: pure numpy/scipy, documented public API."""

import inspect
import re
import subprocess
import sys

import supportscope.stats as stats


def test_no_heavy_imports():
    code = (
        "import sys, supportscope.stats; "
        "bad = [m for m in ('torch', 'pandas', 'pyarrow') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_functions_cite_a_reference():
    cite = re.compile(r"(19|20)\d\d|arXiv|DESIGN\.md")
    names = [n for n in stats.__all__ if not n.isupper()]
    assert len(names) >= 25
    for name in names:
        obj = getattr(stats, name)
        doc = inspect.getdoc(obj)
        assert doc and len(doc) > 40, name
        if inspect.isfunction(obj):
            assert cite.search(doc), f"{name} docstring names no reference"
    for meth in ("weights_chunks", "map", "means"):
        assert cite.search(inspect.getdoc(getattr(stats.PairedBootstrap, meth)))


def test_regime_constants():
    names = (stats.BASIN, stats.TAIL, stats.BARRIER, stats.SINGULAR, stats.INACCESSIBLE, stats.UNDETERMINED)
    assert names == (
        "basin",
        "tail",
        "barrier",
        "singular",
        "inaccessible",
        "undetermined",
    )
