"""`supportscope analyze` end to end in a subprocess: file layouts, budgets, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conftest import BASE, EXAMPLE, TUNED, run_cli


def test_one_file_per_model_without_model_column(tmp_path):
    """--base-file/--tuned-file (JSONL and Parquet, no model column) give the same numbers."""
    t = pacsv.read_csv(EXAMPLE, convert_options=pacsv.ConvertOptions(column_types={"problem_id": pa.string()}))
    base = t.filter(pc.equal(t["model"], BASE)).drop_columns(["model"])
    tuned = t.filter(pc.equal(t["model"], TUNED)).drop_columns(["model"])
    bpath, tpath = tmp_path / "base.jsonl", tmp_path / "rl.parquet"
    with open(bpath, "w") as f:
        for row in base.to_pylist():
            f.write(json.dumps(row) + "\n")
    pq.write_table(tuned, tpath)
    r = run_cli("analyze", "--base-file", bpath, "--tuned-file", tpath, "--bootstrap", "500",
                "--seed", "3", "--out", tmp_path / "split")
    assert r.returncode == 0, r.stderr
    r2 = run_cli("analyze", EXAMPLE, "--base", BASE, "--tuned", TUNED, "--bootstrap", "500", "--seed", "3",
                 "--out", tmp_path / "joint")
    assert r2.returncode == 0, r2.stderr
    a = json.loads((tmp_path / "split" / "summary.json").read_text())
    b = json.loads((tmp_path / "joint" / "summary.json").read_text())
    assert (a["base"], a["tuned"]) == ("base", "rl")  # names default to the file stems
    for key in ("passk", "labels", "venn", "leash", "created_vs_budget", "gibbs", "transition"):
        assert a[key] == b[key], key


def test_budget_beyond_certifiable_is_allowed_and_said(tmp_path):
    r = run_cli("analyze", EXAMPLE, "--base", BASE, "--tuned", TUNED, "--budget", "256", "--bootstrap", "300",
                "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["budget"]["K"] == 256 and not s["budget"]["certifiable"]
    assert s["verdict"]["kind"] == "inconclusive"
    assert s["labels"]["created"]["count"] == 0
    assert any("K=256 is larger than 128 samples can certify" in n for n in s["notes"])
    assert "K=256 is larger than 128 samples can certify" in r.stdout


def test_same_seed_same_results(tmp_path):
    args = ("analyze", EXAMPLE, "--base", BASE, "--tuned", TUNED, "--bootstrap", "300", "--seed", "7")
    assert run_cli(*args, "--out", tmp_path / "a").returncode == 0
    assert run_cli(*args, "--out", tmp_path / "b").returncode == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    a.pop("command"), b.pop("command")
    assert a == b
    assert (tmp_path / "a" / "per_problem.parquet").read_bytes() == (tmp_path / "b" / "per_problem.parquet").read_bytes()


def test_help_lists_config_options():
    r = run_cli("analyze", "--help")
    assert r.returncode == 0
    for opt in ("--budget", "--basin-budget", "--zeta", "--alpha", "--bootstrap", "--seed", "--intersect",
                "--base-file", "--tuned-file", "--out"):
        assert opt in r.stdout, opt


def test_no_model_names_lists_the_models(tmp_path):
    r = run_cli("analyze", EXAMPLE, "--out", tmp_path / "o")
    assert r.returncode == 2
    assert BASE in r.stderr and "--base" in r.stderr and "Traceback" not in r.stderr


def test_report_command_rebuilds_the_html(tmp_path):
    out = tmp_path / "o"
    assert run_cli("analyze", EXAMPLE, "--base", BASE, "--tuned", TUNED, "--bootstrap", "300",
                   "--out", out).returncode == 0
    first = (out / "report.html").read_text()
    (out / "report.html").unlink()
    r = run_cli("report", out)
    assert r.returncode == 0, r.stderr
    rebuilt = (out / "report.html").read_text()
    assert 'id="verdict"' in rebuilt and "462" in rebuilt
    # rebuilt from summary.json (inf stored as "inf"): same sections as the original
    assert rebuilt.count("<h2") == first.count("<h2")


def test_report_command_bad_folder(tmp_path):
    r = run_cli("report", tmp_path / "missing")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing" in r.stderr
    (tmp_path / "half").mkdir()
    r = run_cli("report", tmp_path / "half")
    assert r.returncode == 2 and "summary.json" in r.stderr and "Fix" in r.stderr


def test_readme_python_api_example_runs(tmp_path):
    """The README's Python API example runs as written (from a folder holding examples/)."""
    import re
    import shutil

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    block = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S).group(1)
    shutil.copytree(root / "examples", tmp_path / "examples")
    r = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "math500" / "summary.json").read_text())
    assert r.stdout.splitlines()[0] == summary["verdict"]["sentence"]
    assert r.stdout.splitlines()[1].startswith(f"{summary['support_change']['created']['observed']} created labels")
