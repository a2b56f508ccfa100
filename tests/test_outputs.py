"""Outputs are all or nothing (issue 14): the output-set writer (atomic.write_set), the --out check
before any computation, `report` refusing what is not an analysis of this version, the CLI-wide
guard against raw tracebacks, and two messages that printed too much (Fix: twice, a whole
completion on a math-verify timeout)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from supportscope import atomic
from supportscope.atomic import MANIFEST, verify_set, write_set
from supportscope.errors import InputError, split_fix
from supportscope.pipeline.outputs import ANALYSIS_FILES, check_out_dir

HEADER = "problem_id,model,n,correct\n"


def _results(tmp_path: Path, problems: int = 30) -> Path:
    rows = []
    for p in range(problems):
        rows += [f"q{p},base,16,{p % 5}", f"q{p},tuned,16,{min(16, p % 5 + 3)}"]
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def _analyze(results: Path, out: Path, *extra, preexec_fn=None, env=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "supportscope", "analyze", str(results), "--base", "base", "--tuned", "tuned",
           "--bootstrap", "100", "--out", str(out), *extra]
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200", NO_COLOR="1", **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=preexec_fn, timeout=300)


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every entry of ``folder`` (hidden ones too): files by bytes, folders as a marker."""
    return {p.name: (b"<dir>" if p.is_dir() else p.read_bytes()) for p in folder.iterdir()}


def one_line_error(r: subprocess.CompletedProcess, code: int = 2, *needles: str, progress: bool = False) -> str:
    """The command exited with ``code`` and printed one line (after progress bars, when a model is
    loaded), no traceback."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    err = r.stderr.strip()
    if progress:
        err = err.splitlines()[-1]
    assert len(err.splitlines()) == 1 and err.startswith(("error: ", "internal error: ", "interrupted")), err
    for n in needles:
        assert n in err, (n, err)
    return err


@pytest.fixture(scope="module")
def analysis(tmp_path_factory) -> Path:
    """One complete analysis folder; tests copy it."""
    root = tmp_path_factory.mktemp("analysis")
    out = root / "o"
    r = _analyze(_results(root), out)
    assert r.returncode == 0, r.stderr
    return out


def _copy(analysis: Path, tmp_path: Path) -> Path:
    out = tmp_path / "o"
    shutil.copytree(analysis, out)
    return out


# ------------------------------------------------------------------------------ the set writer
def test_analyze_writes_a_verified_set(analysis):
    names = {p.name for p in analysis.iterdir()}
    assert names == {*ANALYSIS_FILES, MANIFEST}  # and no temp or backup file
    assert verify_set(analysis, ANALYSIS_FILES) is None


def test_report_html_folder_changes_nothing(analysis, tmp_path):
    """Item 4: an --out whose report.html is a folder is refused before any computation."""
    out = _copy(analysis, tmp_path)
    (out / "report.html").unlink()
    (out / "report.html").mkdir()
    before = _snapshot(out)
    r = _analyze(_results(tmp_path), out, "--alpha", "0.1")
    one_line_error(r, 2, "report.html", "is a folder", "Fix")
    assert _snapshot(out) == before


def test_write_set_refuses_a_folder_in_the_way(tmp_path):
    """The set writer's own check (a folder that appears after --out was checked)."""
    write_set(tmp_path, {"a.txt": b"old a", "b.txt": b"old b"})
    before = _snapshot(tmp_path)
    (tmp_path / "c.txt").mkdir()
    before["c.txt"] = b"<dir>"
    with pytest.raises(InputError, match="c.txt: is a folder.*nothing in the folder was changed"):
        write_set(tmp_path, {"a.txt": b"new a", "b.txt": b"new b", "c.txt": b"new c"})
    assert _snapshot(tmp_path) == before


def test_file_size_limit_changes_nothing(analysis, tmp_path):
    """Item 4: with `ulimit -f` below the size of the report, analyze fails with one line and every
    old file (per_problem.*, summary.json, report.html, the manifest) is byte-identical."""
    import resource

    out = _copy(analysis, tmp_path)
    before = _snapshot(out)
    limit = max(len(b) for b in before.values()) // 2

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = _analyze(_results(tmp_path), out, "--alpha", "0.1", preexec_fn=small_files)
    one_line_error(r, 2, str(out), "File too large", "nothing in the folder was changed", "ulimit -f")
    assert _snapshot(out) == before


def test_failed_rename_rolls_back(tmp_path, monkeypatch):
    """An error between the renames (not a crash) puts the members already renamed back."""
    write_set(tmp_path, {"a.txt": b"old a", "b.txt": b"old b"})
    before = _snapshot(tmp_path)
    real, calls = os.replace, []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", second_fails)
    with pytest.raises(InputError, match="No space left.*nothing in the folder was changed. Fix: free disk space"):
        write_set(tmp_path, {"a.txt": b"new a", "b.txt": b"new b", "c.txt": b"new c"})
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before  # a.txt back, no c.txt, the old manifest, no temp or .old file
    assert verify_set(tmp_path, ["a.txt", "b.txt"]) is None


def test_failed_write_leaves_no_folder(tmp_path, monkeypatch):
    real = os.open

    def denied(path, *a, **k):
        if str(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied")
        return real(path, *a, **k)

    monkeypatch.setattr(atomic.os, "open", denied)
    with pytest.raises(InputError, match="Permission denied.*Fix: make the folder writable"):
        write_set(tmp_path / "new" / "deeper", {"a.txt": b"a"})
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []  # the folders it made are gone again


KILL_BETWEEN_RENAMES = textwrap.dedent("""
    import os, signal, sys
    import supportscope.atomic as atomic
    folder = sys.argv[1]
    real, n = os.replace, [0]
    class KillingOs:  # SIGKILL right after the 2nd rename: inside the documented window
        def __getattr__(self, name):
            return getattr(os, name)
        def replace(self, src, dst):
            real(src, dst)
            n[0] += 1
            if n[0] == 2:
                os.kill(os.getpid(), signal.SIGKILL)
    atomic.os = KillingOs()
    atomic.write_set(folder, {"a.txt": b"new a", "b.txt": b"new b", "c.txt": b"new c"})
""")


def test_crash_between_renames_leaves_no_manifest(tmp_path):
    """The remaining window (atomic's docstring): a kill between renames leaves a mix of old and new
    files but never a manifest, so the mix is detected; the next write cleans up and is complete."""
    write_set(tmp_path, {"a.txt": b"old a", "b.txt": b"old b", "c.txt": b"old c"})
    r = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, str(tmp_path)], capture_output=True)
    assert r.returncode == -9, r.stderr
    assert not (tmp_path / MANIFEST).exists()
    assert verify_set(tmp_path, ["a.txt"]) == "no manifest"
    assert [(tmp_path / n).read_bytes() for n in ("a.txt", "b.txt", "c.txt")] == [b"new a", b"new b", b"old c"]
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert leftovers and all(n.endswith((".old", ".tmp")) for n in leftovers)  # old members kept aside
    write_set(tmp_path, {"a.txt": b"A", "b.txt": b"B", "c.txt": b"C"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST, "a.txt", "b.txt", "c.txt"]
    assert verify_set(tmp_path, ["a.txt", "b.txt", "c.txt"]) is None


# ------------------------------------------------------------------------------ --out checked first
def test_out_is_a_file_or_under_a_file(tmp_path):
    results = _results(tmp_path)
    f = tmp_path / "file"
    f.write_text("not a folder")
    one_line_error(_analyze(results, f), 2, str(f), "not a folder", "Fix")
    one_line_error(_analyze(results, f / "sub" / "o"), 2, f"{f} is a file", "Fix")
    assert f.read_text() == "not a folder"
    data = tmp_path / "sft.jsonl"
    data.write_text('{"prompt": "a", "completion": "b"}\n')
    # no model is loaded (the paths do not exist): the --out check comes first
    one_line_error(run_cli("audit-data", "--model", tmp_path / "no-model", data, "--out", f), 2, "not a folder")
    one_line_error(run_cli("sample", "--model", tmp_path / "no-model", "--tasks", data, "--out", f / "run"),
                   2, f"{f} is a file")
    one_line_error(run_cli("score", f, "--scorer", tmp_path / "no-model"), 2, "not a folder")


def test_out_not_writable(tmp_path, monkeypatch):
    import supportscope.pipeline.outputs as outputs

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(outputs.os, "access", lambda path, mode: False)  # chmod does not stop root
    with pytest.raises(InputError, match=r"ro: the folder is not writable. Fix: make it writable"):
        check_out_dir(tmp_path / "ro")
    with pytest.raises(InputError, match=r"new: its nearest existing parent .* is not writable"):
        check_out_dir(tmp_path / "ro" / "new")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write a read-only folder")
def test_read_only_out_cli(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    before = _snapshot(out)
    out.chmod(0o555)
    try:
        one_line_error(_analyze(_results(tmp_path), out), 2, "not writable")
    finally:
        out.chmod(0o755)
    assert _snapshot(out) == before


# ------------------------------------------------------------------------------ report DIR refuses
def _report_refused(out: Path, *needles: str) -> None:
    old = (out / "report.html").read_bytes()
    one_line_error(run_cli("report", out), 2, *needles, "Fix")
    assert (out / "report.html").read_bytes() == old


def test_report_refuses_a_summary_with_only_a_verdict(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    (out / "summary.json").write_text(json.dumps({"verdict": {"sentence": "elicitation"}}))
    _report_refused(out, "summary.json", "not a complete supportscope analysis", "passk")


def test_report_refuses_a_foreign_parquet(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    pq.write_table(pa.table({"problem_id": ["a"], "score": [1.0]}), out / "per_problem.parquet")
    _report_refused(out, "per_problem.parquet", "missing columns", "c_base")


def test_report_refuses_a_parquet_of_other_problems(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    table = pq.read_table(out / "per_problem.parquet")
    pq.write_table(table.slice(0, 5), out / "per_problem.parquet")
    _report_refused(out, "per_problem.parquet", f"5 rows, but summary.json is an analysis of {table.num_rows}")


def test_report_refuses_a_truncated_parquet(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    data = (out / "per_problem.parquet").read_bytes()
    (out / "per_problem.parquet").write_bytes(data[: len(data) // 2])
    _report_refused(out, "per_problem.parquet", "not a readable Parquet file")


def test_report_refuses_another_version(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    s = json.loads((out / "summary.json").read_text())
    s["versions"]["supportscope"] = "0.0.1"
    (out / "summary.json").write_text(json.dumps(s))
    _report_refused(out, "written by supportscope 0.0.1")


def test_report_refuses_files_that_are_not_one_set(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    s = json.loads((out / "summary.json").read_text())
    s["verdict"]["sentence"] = "edited by hand"
    (out / "summary.json").write_text(json.dumps(s))
    _report_refused(out, "not one analysis", "summary.json")
    out2 = _copy(analysis, tmp_path / "second")
    (out2 / MANIFEST).unlink()
    _report_refused(out2, "no output manifest")


def test_report_rebuilds_and_keeps_the_set_verified(analysis, tmp_path):
    out = _copy(analysis, tmp_path)
    (out / "report.html").write_text("stale")
    r = run_cli("report", out)
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").read_bytes() == (analysis / "report.html").read_bytes()
    assert verify_set(out, ANALYSIS_FILES) is None


# ------------------------------------------------------------------------------ the CLI guard
GUARDED = textwrap.dedent("""
    import sys
    from supportscope.cli.app import app, main
    from supportscope.errors import InputError

    @app.command()
    def boom():
        raise RuntimeError("kaputt\\n" + "x" * 2000)

    @app.command()
    def ours():
        raise InputError("f.csv", "bad", "fix it")

    @app.command()
    def interrupt():
        raise KeyboardInterrupt

    sys.argv = ["supportscope", *sys.argv[1:]]
    main()
""")


def _guarded(tmp_path: Path, command: str, **env) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200", **env)
    return subprocess.run([sys.executable, "-c", GUARDED, command], capture_output=True, text=True, env=env,
                          timeout=120)


def test_internal_error_is_one_line_and_a_log(tmp_path):
    r = _guarded(tmp_path, "boom", SUPPORTSCOPE_LOG_DIR=str(tmp_path / "logs"))
    err = one_line_error(r, 1, "internal error: RuntimeError: kaputt x", "please report it with the command",
                         f"traceback in {tmp_path / 'logs'}")
    assert len(err) < 500  # the 2000-character message is cut
    log = Path(err.rsplit("traceback in ", 1)[1])
    text = log.read_text()
    assert "command: supportscope boom" in text and "Traceback (most recent call last)" in text
    assert "RuntimeError: kaputt" in text


def test_internal_error_log_falls_back(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = _guarded(tmp_path, "boom", SUPPORTSCOPE_LOG_DIR=str(blocker / "logs"), XDG_STATE_HOME=str(tmp_path / "state"))
    one_line_error(r, 1, f"traceback in {tmp_path / 'state' / 'supportscope' / 'logs'}")


def test_our_errors_and_interrupts_stay_one_line(tmp_path):
    one_line_error(_guarded(tmp_path, "ours"), 2, "error: f.csv: bad. Fix: fix it")
    one_line_error(_guarded(tmp_path, "interrupt"), 130, "interrupted")


# ------------------------------------------------------------------------------ messages that said too much
def test_split_fix_keeps_one_fix():
    assert split_fix("prompt too long. Fix: shorten it") == ("prompt too long", "shorten it")
    assert split_fix("no fix here.") == ("no fix here", None)
    e = InputError("tasks.jsonl", *split_fix("problem 'a': too long. Fix: lower --max-new-tokens"))
    assert str(e) == "tasks.jsonl: problem 'a': too long. Fix: lower --max-new-tokens"


def test_math_verify_timeout_message_is_bounded(monkeypatch, caplog):
    pytest.importorskip("math_verify")
    import math_verify.parser as mvp
    from math_verify.errors import TimeoutException

    from supportscope.tasks.mathcheck import MAX_LOGGED_CHARS, MathChecker

    def too_slow(*a, **k):
        raise TimeoutException("Operation timed out!")

    monkeypatch.setattr(mvp, "extract_target_from_pred", too_slow)
    completion = "The answer is " + "1 + " * 2500 + "1"  # 10,000 characters
    with caplog.at_level(logging.WARNING):
        assert MathChecker().check("p", "5", completion) == 0.0
    timeouts = [r.getMessage() for r in caplog.records if "Timeout during parsing" in r.getMessage()]
    assert timeouts, [r.getMessage()[:80] for r in caplog.records]
    assert all(len(m) <= MAX_LOGGED_CHARS + 40 for m in timeouts), [len(m) for m in timeouts]
    assert any(m.startswith("Timeout during parsing: The answer is 1 + 1") and m.endswith("more characters]")
               for m in timeouts), timeouts


# ------------------------------------------------------------------------------ with a tiny model
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from supportscope.models.tiny import char_tokenizer, save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "m", seed=0, tokenizer=char_tokenizer())


def test_audit_data_empty_completions(tiny, tmp_path):
    data = tmp_path / "sft.jsonl"
    data.write_text('{"prompt": "1+1=", "completion": ""}\n{"prompt": "2+2=", "completion": ""}\n')
    one_line_error(run_cli("audit-data", "--model", tiny, data, "--out", tmp_path / "a"), 2,
                   "sft.jsonl", "no completion has a token to score", "Fix", progress=True)
    assert not (tmp_path / "a").exists()


def test_long_prompt_says_fix_once(tiny, tmp_path):
    tasks = tmp_path / "p.jsonl"
    tasks.write_text('{"id": "a", "prompt": "1+1=", "answer": "2"}\n')
    r = run_cli("sample", "--model", tiny, "--name", "b", "--tasks", tasks, "--n", "2",
                "--max-new-tokens", "100000", "--out", tmp_path / "run")
    err = one_line_error(r, 2, "exceeds the context", "max-new-tokens", progress=True)
    assert err.count("Fix:") == 1, err
