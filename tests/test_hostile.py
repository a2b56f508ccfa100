"""Hostile input to every command (issue 14): each case of tests/hostile_cases.py must fail as a user
error -- exit 2, ONE stderr line ``error: ...`` that names the file, key or flag at fault, no
traceback -- and leave its folder byte for byte as it was (existing outputs, the run, and a
``victim.txt`` outside the run that a manifest or a symlink may point at).

A CLI start costs about 1.5 s (scipy, torch), so the cases do not run one by one: the module
fixture builds every selected case's inputs, snapshots its folder, runs all the commands
concurrently in subprocesses (one per core, at least 2), snapshots again, and the parametrized
tests only check the stored result of their case.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_cases import CASES, VICTIM, Ctx, build_shared, by_id, snapshot

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
TIMEOUT_S = 180


@dataclass
class Result:
    argv: list[str]
    rc: int | None  # None: timed out
    stdout: str
    stderr: str
    before: dict[str, tuple]
    after: dict[str, tuple]
    seconds: float
    build_error: BaseException | None = None


def _selected(request) -> list[str]:
    """Ids of the cases whose tests this session runs (all cases when run outside such a session)."""
    ids = [item.callspec.params["case_id"] for item in request.session.items
           if item.module is sys.modules[__name__] and hasattr(item, "callspec") and "case_id" in item.callspec.params]
    return ids or [c.id for c in CASES]


def _run(argv: list[str], cwd: Path, env: dict) -> tuple[int | None, str, str, float]:
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "supportscope", *argv], check=False, cwd=cwd, env=env,
                           capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S)
        return r.returncode, r.stdout, r.stderr, time.perf_counter() - t0
    except subprocess.TimeoutExpired as e:
        return None, str(e.stdout or ""), str(e.stderr or ""), time.perf_counter() - t0


@pytest.fixture(scope="module")
def results(request, tmp_path_factory) -> dict[str, Result]:
    cases = by_id()
    wanted = [cases[i] for i in dict.fromkeys(_selected(request)) if not (cases[i].as_root_skip and IS_ROOT)]
    shared = build_shared(tmp_path_factory.mktemp("shared"))
    root = tmp_path_factory.mktemp("cases")
    logs = tmp_path_factory.mktemp("crash-logs")  # outside every case folder
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", COLUMNS="200", NO_COLOR="1",
               OMP_NUM_THREADS="1", SUPPORTSCOPE_LOG_DIR=str(logs))
    prepared, out = [], {}
    for case in wanted:
        d = root / case.id
        d.mkdir()
        (d / VICTIM).write_text(f"the victim of {case.id}: must stay as it is\n")
        try:
            argv = [str(a) for a in case.build(Ctx(d, shared))]
        except Exception as e:  # noqa: BLE001 - reported by that case's test alone
            out[case.id] = Result([], None, "", "", {}, {}, 0.0, build_error=e)
            continue
        prepared.append((case, d, argv, snapshot(d)))
    workers = max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # the commands that may load a model (the slowest cases) first, so that the workers end together
        order = sorted(prepared, key=lambda p: p[0].command not in ("sample", "score", "audit-data"))
        futures = [(case, d, argv, before, pool.submit(_run, argv, d, env)) for case, d, argv, before in order]
        for case, d, argv, before, fut in futures:
            rc, stdout, stderr, seconds = fut.result()
            out[case.id] = Result(argv, rc, stdout, stderr, before, snapshot(d), seconds)
    for dirpath, dirnames, _ in os.walk(root):  # read-only folders of the permission cases: removable again
        for name in dirnames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                p.chmod(0o755)
    return out


def _case_params():
    params = []
    for c in CASES:
        marks = []
        if c.as_root_skip:
            marks.append(pytest.mark.skipif(IS_ROOT, reason="root writes to read-only folders"))
        if c.xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=c.xfail))
        params.append(pytest.param(c.id, id=c.id, marks=marks))
    return params


def test_case_table():
    """At least 90 distinct cases, every command covered, ids unique (by_id checks)."""
    cases = by_id()
    assert len(cases) >= 90
    assert {c.command for c in CASES} >= {"analyze", "sample", "score", "run", "report", "audit-data", "organism"}


@pytest.mark.parametrize("case_id", _case_params())
def test_hostile_input(results, case_id):
    case = by_id()[case_id]
    r = results[case_id]
    if r.build_error is not None:
        raise r.build_error
    shown = f"\n$ supportscope {' '.join(a if len(a) < 200 else a[:200] + '...' for a in r.argv)}\n" \
            f"rc={r.rc} ({r.seconds:.1f} s)\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-4000:]}"
    assert r.rc is not None, f"timed out after {TIMEOUT_S} s" + shown
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, shown
    assert r.rc == case.rc, shown
    lines = r.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), "stderr is not ONE line" + shown
    line = lines[0]
    assert line.startswith("error: "), shown
    for needle in case.needles:
        assert needle in line, f"{needle!r} not named" + shown
    # nothing written, changed or removed: the inputs, the existing outputs, the victim next to the run
    allowed = set(case.may_create)
    before = {k: v for k, v in r.before.items() if k not in allowed}
    after = {k: v for k, v in r.after.items() if k not in allowed}
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    assert (sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys()), changed) == ([], [], []), \
        "(created, removed, changed)" + shown
    assert r.after.get(VICTIM) == r.before[VICTIM]
