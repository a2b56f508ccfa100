"""Bad input: one line naming the file, the line and the fix; exit code 2; no traceback;
nothing already written is lost. Each case runs the real CLI in a subprocess."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from conftest import BASE, EXAMPLE, TUNED, run_cli

HEADER = "problem_id,model,n,correct\n"


def good_rows(problems=range(5), n=16):
    rows = []
    for p in problems:
        rows.append(f"{p},base,{n},{p % 3}")
        rows.append(f"{p},tuned,{n},{(p % 3) + 2}")
    return rows


def write(tmp_path, rows, name="r.csv", header=HEADER):
    path = tmp_path / name
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def assert_bad(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    for n in needles:
        assert n in err, (n, err)
    return err


def analyze(path, *extra, out):
    return run_cli("analyze", path, "--base", "base", "--tuned", "tuned", "--bootstrap", "200",
                   "--out", out, *extra)


def test_missing_file(tmp_path):
    r = analyze(tmp_path / "nope.csv", out=tmp_path / "o")
    assert_bad(r, "nope.csv", "Fix")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    assert_bad(analyze(p, out=tmp_path / "o"), "empty.csv", "Fix")


def test_header_only(tmp_path):
    p = write(tmp_path, [], name="hdr.csv")
    assert_bad(analyze(p, out=tmp_path / "o"), "hdr.csv", "Fix")


def test_missing_column(tmp_path):
    p = write(tmp_path, ["0,base,16", "0,tuned,16"], header="problem_id,model,n\n")
    assert_bad(analyze(p, out=tmp_path / "o"), "r.csv", "correct", "Fix")


def test_unknown_model(tmp_path):
    p = write(tmp_path, good_rows())
    r = run_cli("analyze", p, "--base", "bsae", "--tuned", "tuned", "--out", tmp_path / "o")
    assert_bad(r, "r.csv", "bsae", "base", "Fix")


@pytest.mark.parametrize("bad,what", [
    ("3,base,16,17", "17"),      # correct > n
    ("3,base,16,-1", "-1"),      # negative
    ("3,base,16,3.5", "3.5"),    # non-integer
    ("3,base,16,nan", "correct"),  # NaN
    ("3,base,0,0", "n"),         # n = 0
])
def test_bad_count_names_line(tmp_path, bad, what):
    rows = good_rows()
    rows[6] = bad  # data row 6 -> line 8 (header is line 1)
    p = write(tmp_path, rows)
    assert_bad(analyze(p, out=tmp_path / "o"), "r.csv:8", what, "Fix")


def test_duplicate_problem_model_names_both_lines(tmp_path):
    rows = good_rows() + ["2,base,16,1"]  # duplicates data row 4 (line 6); itself on line 12
    p = write(tmp_path, rows)
    err = assert_bad(analyze(p, out=tmp_path / "o"), "r.csv", "Fix")
    assert "6" in err and "12" in err


def test_different_problem_sets_error_and_intersect(tmp_path):
    rows = good_rows(range(6))
    rows = [r for r in rows if not r.startswith("5,tuned")]
    p = write(tmp_path, rows)
    assert_bad(analyze(p, out=tmp_path / "o"), "r.csv", "--intersect")
    r = analyze(p, "--intersect", out=tmp_path / "o2")
    assert r.returncode == 0, r.stderr
    assert "dropped 1 base-only" in r.stdout


def test_k_larger_than_n(tmp_path):
    r = run_cli("analyze", EXAMPLE, "--base", BASE, "--tuned", TUNED, "--k", "256", "--bootstrap", "200",
                "--out", tmp_path / "o")
    assert_bad(r, "math500", "k <= 128", "Fix")


def test_budget_below_basin_budget(tmp_path):
    p = write(tmp_path, good_rows())
    assert_bad(analyze(p, "--budget", "4", out=tmp_path / "o"), "--budget", "Fix")


def test_mixed_n_is_allowed(tmp_path):
    rows = [f"{p},{m},{16 + 8 * (p % 3)},{(p * 7 + len(m)) % 9}" for p in range(30) for m in ("base", "tuned")]
    p = write(tmp_path, rows)
    r = analyze(p, out=tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert "n varies across problems" in r.stdout


def test_non_utf8_bytes_name_the_line(tmp_path):
    p = tmp_path / "latin.csv"
    body = (HEADER + "\n".join(good_rows())).encode()
    lines = body.split(b"\n")
    lines[3] = lines[3].replace(b"base", b"b\xe9se")  # line 4
    p.write_bytes(b"\n".join(lines) + b"\n")
    assert_bad(analyze(p, out=tmp_path / "o"), "latin.csv:4", "UTF-8", "Fix")


def test_failed_run_keeps_earlier_results(tmp_path):
    out = tmp_path / "o"
    good = write(tmp_path, good_rows(range(20)), name="good.csv")
    assert analyze(good, out=out).returncode == 0
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    bad = write(tmp_path, good_rows(range(20)) + ["3,base,16,99"], name="bad.csv")
    assert_bad(analyze(bad, out=out), "bad.csv")
    after = {f.name: f.read_bytes() for f in out.iterdir()}
    assert after == before


@pytest.mark.slow
def test_million_row_samples_file(tmp_path):
    """1,000,000 per-sample rows (500 problems x 2 models x 1000 samples) stream through analyze."""
    rng = np.random.default_rng(0)
    q, s = 500, 1000
    p_true = rng.beta(0.5, 0.5, size=(2, q))
    correct = rng.random((2, q, s)) < p_true[:, :, None]
    table = pa.table({
        "problem_id": np.tile(np.repeat(np.arange(q), s), 2).astype(str),
        "model": np.repeat(np.array(["base", "tuned"]), q * s),
        "sample_idx": np.tile(np.arange(s), 2 * q),
        "correct": correct.reshape(-1).astype(np.int8),
    })
    path = tmp_path / "samples.csv"
    pacsv.write_csv(table, path)
    r = analyze(path, out=tmp_path / "o")
    assert r.returncode == 0, r.stderr
    import pyarrow.parquet as pq
    pp = pq.read_table(tmp_path / "o" / "per_problem.parquet").to_pydict()
    assert pp["n_base"] == [s] * q
    order = np.array(pp["problem_id"], dtype=int)
    assert np.array_equal(np.array(pp["c_base"]), correct[0].sum(axis=1)[order])
    assert np.array_equal(np.array(pp["c_tuned"]), correct[1].sum(axis=1)[order])
