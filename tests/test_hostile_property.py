"""Random hostile input (issue 14), in-process for speed: random bytes named .csv / .jsonl / .parquet
to ``analyze``, random TOML documents (plausible keys, values of random TOML types) to ``run``. The
command exits 0 or 2 (never 1: no internal error, no traceback), a failure prints ONE line
``error: ...`` on stderr, and a failed command writes nothing.

The ``run`` documents never name a model that exists, so no model is ever loaded (and nothing
is downloaded: HF_HUB_OFFLINE=1 is set here too)."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import sys
import tempfile
from pathlib import Path

import pytest
from hostile_cases import GOOD_CSV, PROBLEMS, good_parquet, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])



@pytest.fixture(scope="module", autouse=True)
def quiet_env(tmp_path_factory):
    """Offline, wide, colourless; crash logs (if any) outside the examples' folders."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200", "NO_COLOR": "1",
                     "SUPPORTSCOPE_LOG_DIR": str(tmp_path_factory.mktemp("crash-logs"))}.items():
            mp.setenv(k, v)
        yield


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("examples")


def cli(*args: str) -> tuple[int, str, str]:
    """``supportscope ARGS`` in this process: (exit code, stdout, stderr)."""
    from supportscope.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    old_argv = sys.argv
    sys.argv = ["supportscope", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = old_argv
    return (0 if code is None else code), out.getvalue(), err.getvalue()


def check_contract(code, stdout: str, stderr: str, before: dict, after: dict) -> None:
    shown = f"\nrc={code}\nstdout: {stdout[-1500:]}\nstderr: {stderr[-3000:]}"
    assert code in (0, 2), shown
    assert "Traceback" not in stderr and "Traceback" not in stdout, shown
    if code == 2:
        lines = stderr.rstrip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: "), "not ONE error line" + shown
        assert after == before, "a failed command wrote, changed or removed files" + shown


# -- analyze: random bytes ------------------------------------------------------------------------

GOOD_JSONL = "".join(
    json.dumps({"problem_id": p, "model": m, "n": int(n), "correct": int(c)}) + "\n"
    for p, m, n, c in (line.split(",") for line in GOOD_CSV.splitlines()[1:])).encode()
VALID = [GOOD_CSV.encode(), GOOD_JSONL, good_parquet(), gzip.compress(GOOD_CSV.encode(), mtime=0)]


@st.composite
def mutated(draw) -> bytes:
    """A valid results file (CSV, JSONL, Parquet, gzip) with a few random byte edits or a cut."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "cut"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "replace" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
                [b",", b"\n", b"nan", b"-1", b"1e400", b"\x00", b'"', b"99999999999999999999", b"\xff\xfe"]))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        else:
            del data[i:]
    return bytes(data)


@SETTINGS
@given(data=st.binary(max_size=2048) | mutated(), suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]))
def test_analyze_random_bytes(root, data, suffix):
    d = Path(tempfile.mkdtemp(dir=root))
    path = d / f"results{suffix}"
    path.write_bytes(data)
    before = snapshot(d)
    code, stdout, stderr = cli("analyze", path, "--base", "base", "--tuned", "tuned", "--bootstrap", "100",
                               "--out", d / "out")
    check_contract(code, stdout, stderr, before, snapshot(d))
    if code == 0:
        assert (d / "out" / "summary.json").is_file()


# -- run: random TOML documents -------------------------------------------------------------------

ABSENT = object()


def toml_value(v) -> str:
    """``v`` (str, bool, int, float, date/time, list, dict) as a TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        out = []
        for ch in v:
            if ch in '"\\' or ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(x)}' for k, x in v.items()) + "}"
    return v.isoformat()  # date, time, datetime


SCALARS = (st.text(max_size=30) | st.integers() | st.integers(-(2**70), 2**70) | st.floats() | st.booleans()
           | st.dates() | st.datetimes() | st.times())
ANY = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                   | st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=3), max_leaves=6)
MISSING_MODEL = st.sampled_from(["no-such-model", "models/none", "no-such.gguf"])
# (table, key) -> (valid values, hostile values of the right type); "" is the top level
KEYS = {
    ("", "out"): (st.sampled_from(["runs/r", "out"]), st.sampled_from(["", "x" * 5000])),
    ("", "tasks"): (st.sampled_from(["missing.jsonl", "rg:nosuch", "nofile.txt"]), st.sampled_from(["", " "])),
    ("", "n"): (st.integers(1, 8), st.sampled_from([0, -1, 2**20 + 1, 2**63, -(2**64)])),
    ("", "limit"): (st.integers(1, 4), st.sampled_from([0, -1, 2**63])),
    ("base", "model"): (MISSING_MODEL, st.sampled_from(["", "x" * 5000])),
    ("base", "chat"): (st.booleans(), st.sampled_from(["false", "true", 0, 1])),
    ("base", "trust_remote_code"): (st.booleans(), st.sampled_from(["false", "no", 0])),
    ("tuned", "model"): (MISSING_MODEL, st.sampled_from(["", "\x00"])),
    ("tuned", "chat"): (st.booleans(), st.sampled_from(["false", 1])),
    ("decoding", "temperature"): (st.floats(0, 2), st.floats(allow_nan=True) | st.floats(max_value=-1e-9)),
    ("decoding", "top_p"): (st.floats(0.01, 1), st.sampled_from([0.0, 1.5, -1.0, math.nan, math.inf])),
    ("analyze", "bootstrap"): (st.sampled_from([100, 1000]), st.sampled_from([0, 99, 10**13, 1e4])),
    ("analyze", "seed"): (st.integers(0, 3), st.sampled_from([-1, 2**63, 2**64, 1.5])),
}


@st.composite
def toml_documents(draw, tasks=None) -> str:
    """A TOML document over the plausible keys: every key valid except a few hostile ones (absent, a
    bad value of the right type, or a value of a random TOML type), now and then an unknown key or
    garbled text; ``tasks``: a strategy for the valid tasks value instead."""
    hostile = draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=3, unique=True))
    tables: dict[str, list[str]] = {}
    for (table, key), (valid, bad) in KEYS.items():
        if key == "tasks" and tasks is not None:
            valid = tasks
        how = draw(st.sampled_from(["bad", "any", "absent"])) if (table, key) in hostile else "valid"
        if how != "absent":
            # a random string as `out` could name any folder (/, ..): out is a safe path or not a string
            anything = ANY.filter(lambda v: not isinstance(v, str)) if key == "out" else ANY
            v = draw({"valid": valid, "bad": bad, "any": anything}[how])
            tables.setdefault(table, []).append(f"{key} = {toml_value(v)}")
    if draw(st.sampled_from([False] * 9 + [True])):  # now and then an unknown key
        key = draw(st.from_regex(r"x_[a-z_]{0,10}", fullmatch=True))  # never a key of the configs
        table = draw(st.sampled_from(sorted({t for t, _ in KEYS})))
        tables.setdefault(table, []).append(f"{key} = {toml_value(draw(ANY))}")
    lines = tables.pop("", [])
    for table, body in tables.items():
        lines += [f"[{table}]", *body]
    text = "\n".join(lines) + "\n"
    if draw(st.sampled_from([False] * 9 + [True])):  # and a garbled document
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.text(max_size=10)) + text[i:]
    return text


def run_config(root: Path, text: str) -> None:
    d = Path(tempfile.mkdtemp(dir=root))
    cfg = d / "cfg.toml"
    cfg.write_text(text, encoding="utf-8", errors="surrogatepass")
    before = snapshot(d)
    code, stdout, stderr = cli("run", cfg)
    check_contract(code, stdout, stderr, before, snapshot(d))
    assert code == 2, "a config that names no existing model cannot succeed"


@SETTINGS
@given(text=toml_documents())
def test_run_random_toml(root, text):
    run_config(root, text)


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("problems") / "problems.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in PROBLEMS))
    return p


@settings(SETTINGS, max_examples=30)
@given(data=st.data())
def test_run_random_toml_real_tasks(root, problems_file, data):
    """As above, but ``tasks`` often names a real problems file, so a config may pass every check and
    fail only at the (missing) model: still nothing may be written."""
    text = data.draw(toml_documents(tasks=st.just(str(problems_file))))
    run_config(root, text)
