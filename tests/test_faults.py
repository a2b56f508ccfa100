"""Silent wrong results and raw tracebacks of issue 14, each through the real CLI in a subprocess
where it is about the CLI: exit 2, ONE ``error:`` line naming the input, no traceback, nothing
written or changed. The model is the packaged organism checkpoint (no new model is trained)."""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from supportscope.analysis import AnalyzeConfig, ModelCounts, compare
from supportscope.analysis.verdict import MIN_PROBLEMS, min_problems
from supportscope.errors import InputError
from supportscope.io import load_counts
from supportscope.organism.task import CHECKPOINT
from supportscope.store import RunStore
from supportscope.tasks import load_task

HEADER = "problem_id,model,n,correct\n"
TASK = "organism:?size=2"  # 2 problems of each of the 5 families: 10


def one_line_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for n in needles:
        assert n in err, (n, err)
    return err


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) by its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def counts_file(path: Path, rows: list[tuple[str, int, int]], n: int = 16) -> Path:
    """A counts CSV: per (problem, base correct, tuned correct), both models with n samples."""
    path.write_text(HEADER + "".join(f"{p},base,{n},{c0}\n{p},tuned,{n},{c1}\n" for p, c0, c1 in rows))
    return path


def analyze(path: Path, out: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return run_cli("analyze", path, "--base", "base", "--tuned", "tuned", "--bootstrap", "200", "--out", out,
                   timeout=timeout)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One real run: the organism sampled on TASK with --limit 3, n = 2."""
    out = tmp_path_factory.mktemp("faults") / "run"
    r = run_cli("sample", "--model", CHECKPOINT, "--name", "base", "--tasks", TASK, "--limit", "3", "--n", "2",
                "--max-new-tokens", "8", "--out", out)
    assert r.returncode == 0, r.stderr
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


# ------------------------------------------------------------------ 1. score --generator nosuch
def test_score_unknown_generator_is_refused_before_loading_and_writing(run, tmp_path):
    """It loaded the scorer, registered 'scorer:sc' in the manifest (which then blocked `score
    --kl` with another config) and only then failed (or, earlier, exited 0)."""
    copy = _copy(run, tmp_path)
    before = tree(copy)
    r = run_cli("score", copy, "--scorer", CHECKPOINT, "--name", "sc", "--generator", "nosuch")
    one_line_error(r, str(copy), "'nosuch'", "has no samples", "Fix", "'base'")
    assert tree(copy) == before


def test_score_generator_did_you_mean(run):
    from supportscope.scale.jobs import score_generators

    with pytest.raises(InputError, match=r"generator 'bsae'. Fix: did you mean base\? .*'base'"):
        score_generators(RunStore(run), ["bsae"], "sc")
    assert score_generators(RunStore(run), None, "sc") == ["base"]
    assert score_generators(RunStore(run), ["base"], "base") == []


# ------------------------------------------------------------------ 2. every task honours limit
def test_sample_honours_limit_on_organism_tasks(run):
    """--limit 3 with organism:?size=2 sampled all 10 problems (limit was taken as the per-family
    size, and ignored when size was given)."""
    entry = json.loads((run / "manifest.json").read_text())["entries"]["base"]
    assert entry["task"]["problems"] == 3 == min(3, 10)
    assert RunStore(run).read("problems", "base").num_rows == 3
    assert RunStore(run).read("samples", "base").num_rows == 3 * 2


@pytest.mark.parametrize("spec, limit, expect", [
    ("organism:?size=2", 3, 3),                        # limit below what the spec selects
    ("organism:?size=2", 50, 10),                      # above: all of them, spec unchanged
    ("organism:?size=1&families=add", 3, 1),           # min(limit, available)
    ("organism:", 4, 4),                               # no size: limit caps the total, not each family
    ("organism:?limit=2", 5, 2),                       # the spec's own limit and the argument: the smaller
])
def test_organism_task_limit_is_min_of_limit_and_available(spec, limit, expect):
    task = load_task(spec, limit=limit)
    ids = [p.id for p in task.problems()]
    assert len(ids) == expect
    assert [p.id for p in load_task(task.spec).problems()] == ids  # the canonical spec gives them again
    if expect == 10:
        assert "limit" not in task.spec


def test_a_factory_that_ignores_limit_is_refused():
    from supportscope.tasks import register, registry
    from supportscope.tasks.base import TaskSpecError

    class Greedy:
        spec = "greedy:x"

        def problems(self):
            return list(range(5))

    register("greedy", lambda rest, *, limit=None, seed=0: Greedy())
    try:
        with pytest.raises(TaskSpecError, match="gave 5 problems, more than the limit 2"):
            load_task("greedy:x", limit=2)
        assert load_task("greedy:x").problems() == list(range(5))
    finally:
        registry.unregister("greedy")


# ------------------------------------------------------------------ 3. too few problems for a verdict
def test_one_problem_verdict_is_inconclusive(tmp_path):
    """One problem, 8/16 -> 0/16, was a "regression" from a zero-width interval [-0.5, -0.5]."""
    out = tmp_path / "o"
    r = analyze(counts_file(tmp_path / "one.csv", [("q0", 8, 0)]), out)
    assert r.returncode == 0, r.stderr
    v = json.loads((out / "summary.json").read_text())["verdict"]
    assert v["kind"] == "inconclusive" and v["success"] == "flat", v
    assert v["sentence"].startswith("Inconclusive: 1 problem is too few") and f"at least {MIN_PROBLEMS}" in v["sentence"]


def _mc(name, c, n):
    return ModelCounts.from_arrays(name, [f"q{i}" for i in range(len(c))], n, c)


def test_min_problems_is_where_the_sign_flip_test_can_reject():
    assert MIN_PROBLEMS == min_problems(0.05) == 6 and min_problems(0.01) == 8 and min_problems(0.2) == 4
    for n_problems, kind in ((MIN_PROBLEMS - 1, "inconclusive"), (MIN_PROBLEMS, "regression")):
        # every problem 8/16 -> 0/16: a zero-width bootstrap interval; decisive only from MIN_PROBLEMS on,
        # where the exact sign-flip test (p = 2^(1-n) = 0.031) rejects too
        c0, c1, n = np.full(n_problems, 8), np.zeros(n_problems, int), np.full(n_problems, 16)
        s = compare(_mc("b", c0, n), _mc("t", c1, n), AnalyzeConfig(bootstrap=200)).summary
        assert s["passk"][0]["difference_lo"] == s["passk"][0]["difference_hi"] == -0.5
        assert s["verdict"]["kind"] == kind, s["verdict"]


# ------------------------------------------------------------------ 4. a negative Gibbs tilt
def test_negative_gibbs_lambda_is_not_beta_inf(tmp_path):
    rows = [(f"q{i}", 8 + i, 2 + i // 2) for i in range(8)]  # the tuned model solves less everywhere
    out = tmp_path / "o"
    r = analyze(counts_file(tmp_path / "neg.csv", rows), out)
    assert r.returncode == 0, r.stderr
    g = json.loads((out / "summary.json").read_text())["gibbs"]
    assert g["lambda"] < 0 and g["beta"] is None
    line = " ".join(r.stdout.split())
    gibbs = line[line.index("Gibbs fit:"):]
    assert "beta = inf" not in gibbs and "no positive temperature beta gives a negative tilt" in gibbs
    assert "none (lambda &lt; 0: no positive temperature" in (out / "report.html").read_text()


# ------------------------------------------------------------------ 5. a FIFO is never opened
def test_fifo_named_csv_is_refused_not_read(tmp_path):
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    out = tmp_path / "o"
    r = analyze(fifo, out, timeout=60)  # it hung forever: open() waits for a writer
    one_line_error(r, "x.csv", "named pipe", "Fix")
    assert not out.exists()


def test_fifo_task_file_is_refused_not_read(tmp_path):
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)
    r = run_cli("sample", "--model", CHECKPOINT, "--name", "b", "--tasks", fifo, "--out", tmp_path / "r", timeout=60)
    one_line_error(r, "p.jsonl", "named pipe", "Fix")
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ 6. binary bytes in a text file
def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"problem_id": ["q0"], "model": ["base"], "n": [4], "correct": [1]}), buf)
    return buf.getvalue()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("r.csv", HEADER + "q0,base,4,1\n")
    return buf.getvalue()


@pytest.mark.parametrize("data, says, fix", [
    (gzip.compress((HEADER + "q0,base,4,1\n").encode()), "is gzip-compressed, not CSV text", "gzip -dc"),
    (b"\x28\xb5\x2f\xfd" + b"\x00" * 40, "is zstd-compressed, not CSV text", "zstd -dc"),
    (_parquet_bytes(), "is a Parquet file, not CSV text", "rename it to .parquet"),
    (_zip_bytes(), "is a zip archive", "unzip it"),
], ids=["gzip", "zstd", "parquet", "zip"])
def test_binary_bytes_in_a_csv_are_named(tmp_path, data, says, fix):
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as e:
        load_counts(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: {says}") and ". Fix: " in msg and fix in msg and "UTF-8" not in msg, msg


def test_gzip_and_parquet_named_csv_through_the_cli(tmp_path):
    gz = tmp_path / "g.csv"
    gz.write_bytes(gzip.compress(counts_file(tmp_path / "plain.csv", [("q0", 4, 8)]).read_bytes()))
    one_line_error(analyze(gz, tmp_path / "o1"), "g.csv", "is gzip-compressed, not CSV text", "Fix: decompress")
    pqf = tmp_path / "p.csv"
    pqf.write_bytes(_parquet_bytes())
    one_line_error(analyze(pqf, tmp_path / "o2"), "p.csv", "is a Parquet file", "Fix: rename it to .parquet")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_binary_bytes_in_task_and_parquet_files(tmp_path):
    task = tmp_path / "t.jsonl"
    task.write_bytes(gzip.compress(b'{"id": "a", "prompt": "1+1=", "answer": "2"}\n'))
    with pytest.raises(InputError, match="is gzip-compressed, not JSON Lines text"):
        load_task(str(task))
    fake = tmp_path / "z.parquet"
    fake.write_bytes(gzip.compress(_parquet_bytes()))
    with pytest.raises(InputError, match="is gzip-compressed, not a Parquet file"):
        load_counts(fake)


# ------------------------------------------------------------------ 7. organism pretrain options
@pytest.mark.parametrize("args, needles", [
    (("--steps", "-1"), ("--steps -1", ">= 1")),
    (("--hidden-size", "10", "--heads", "3"), ("--hidden-size 10", "--heads 3")),
])
def test_bad_pretrain_options_are_one_line(tmp_path, args, needles):
    out = tmp_path / "ck"
    one_line_error(run_cli("organism", "pretrain", *args, "--out", out), *needles, "Fix")
    assert not out.exists()


# ------------------------------------------------------------------ 8. a write the machine refuses
def test_file_size_limit_while_sampling_is_one_line(tmp_path):
    """`ulimit -f` (a full disk, a quota: the same path) while `sample` writes its run: it was
    'internal error: OSError: [Errno 27] File too large' with no file named, exit 1."""
    out = tmp_path / "r"
    limit = 512  # the lock file (a pid) fits, the run's first manifest does not

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200", NO_COLOR="1", SUPPORTSCOPE_LOG_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "supportscope", "sample", "--model", str(CHECKPOINT), "--name", "b",
                        "--tasks", TASK, "--limit", "2", "--out", str(out)], capture_output=True, text=True,
                       env=env, preexec_fn=small_files, timeout=120, check=False)
    one_line_error(r, str(out / "manifest.json"), "File too large", "Fix: raise the file-size limit (ulimit -f)",
                   "--out")
    assert sorted(os.listdir(out)) == [".lock"]  # no manifest, no temp file: a new run can start here


# ------------------------------------------------------------------ 9. corrupt inputs of score
def test_score_on_a_truncated_shard_is_one_line_and_changes_nothing(run, tmp_path):
    copy = _copy(run, tmp_path)
    shard = min((copy / "samples" / "base").glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    before = tree(copy)
    r = run_cli("score", copy, "--scorer", CHECKPOINT, "--name", "sc")
    one_line_error(r, shard.name, "content changed since it was written", "Fix")
    assert tree(copy) == before  # refused before the scorer is registered (or any model loaded)


def test_click_usage_errors_are_one_line(tmp_path):
    """A value click cannot parse (``--budget 1e7``), an unknown flag or command: one ``error:`` line
    naming the flag and the command's --help, exit 2 (typer printed a multi-line box)."""
    path = counts_file(tmp_path / "c.csv", [(f"p{i}", 3, 5) for i in range(8)])
    for args, needle in ((("analyze", path, "--budget", "1e7"), "--budget"),
                         (("analyze", path, "--seed", "1e23"), "--seed"),
                         (("analyze", path, "--nosuch"), "--nosuch"),
                         (("nosuchcmd",), "nosuchcmd")):
        err = one_line_error(run_cli(*args, cwd=tmp_path), needle)
        assert "--help" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


def test_no_arguments_print_the_help_once():
    r = run_cli()
    assert r.returncode == 2 and r.stdout.count("Usage") == 1 and r.stderr.strip() == ""


def test_toml_syntax_error_names_its_line(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('out = "r"\ntasks = "rg:chain_sum"\nn = = 3\n')
    one_line_error(run_cli("run", cfg, cwd=tmp_path), "cfg.toml:3:", "column 5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.toml"]


def test_two_crashes_in_one_second_get_two_logs(tmp_path, monkeypatch):
    from supportscope.cli.crash import write_crash_log

    monkeypatch.setenv("SUPPORTSCOPE_LOG_DIR", str(tmp_path))
    paths = [write_crash_log(RuntimeError(f"bug {i}")) for i in range(3)]
    assert len(set(paths)) == 3 and all(p.parent == tmp_path for p in paths)
    assert [p.read_text().strip().splitlines()[-1] for p in paths] == [f"RuntimeError: bug {i}" for i in range(3)]
