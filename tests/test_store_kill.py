"""A writer SIGKILLed at random times and resumed ends with exactly the run an uninterrupted
writer makes: same rows, same Parquet bytes per shard, no shard lost or written twice."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from supportscope.store.run import RunStore

N_KEYS = 40

# Shard content is a pure function of the key (a seeded RNG per key); the real sampler comes later.
WRITER = """
import sys, zlib
import numpy as np
from supportscope.store.schema import build_table
from supportscope.store.run import RunStore

def rows(key):
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    out = []
    for j in range(int(rng.integers(150, 250))):
        n = int(rng.integers(1, 40))
        lp = np.log(rng.uniform(0.01, 1.0, n))
        ok = bool(rng.random() < 0.3)
        out.append({"problem_id": "prob-" + key, "model": "org/toy", "sample_idx": j,
                    "seed": int(rng.integers(0, 2**63 - 1)), "prompt_ids": rng.integers(0, 1000, 8),
                    "token_ids": rng.integers(0, 32000, n), "completion": "t" * n, "n_tokens": n,
                    "finish_reason": "stop", "correct": ok, "reward": float(ok),
                    "logp_decoding": float(lp.sum()), "logp_raw": float((lp * 1.1).sum()),
                    "token_logp_decoding": lp, "token_logp_raw": lp * 1.1})
    return out

if len(sys.argv) > 2:  # a crash plan "stage:target:nth", e.g. "tmp:shard:3" (see _crash_at)
    import os, signal
    import supportscope.atomic as atomic_mod
    stage, target, nth = sys.argv[2].split(":")
    calls = {"shard": 0, "manifest": 0}

    class CrashingOs:
        # the atomic writer module's os: SIGKILLs this process at one point of the nth atomic write
        def __getattr__(self, name):
            return getattr(os, name)
        def open(self, path, *args):
            self.target = "manifest" if ".manifest.json." in str(path) else "shard"
            return os.open(path, *args)
        def write(self, fd, data):
            if stage == "tmp" and self.target == target and calls[target] + 1 == int(nth):
                os.write(fd, bytes(data[: len(data) // 2]))
                os.kill(os.getpid(), signal.SIGKILL)
            return os.write(fd, data)
        def replace(self, src, dst):
            os.replace(src, dst)
            calls[self.target] += 1
            if stage == "renamed" and self.target == target and calls[target] == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)

    atomic_mod.os = CrashingOs()

store = RunStore.open(sys.argv[1], versions={"test": "1"})
store.register("org/toy", {"role": "base", "decoding": {"temperature": 1.0}, "task": {"name": "toy"}})
print("ready", flush=True)
for i in range(%d):
    key = "k%%02d" %% i
    if key in store.done("samples", "org/toy"):
        continue
    store.write_shard("samples", "org/toy", key, build_table("samples", rows(key)))
print("finished", flush=True)
""" % N_KEYS


def _start(script: Path, run: Path, *plan: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(script), str(run), *plan], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line == "ready", proc.stderr.read()
    return proc


def _run_to_end(script: Path, run: Path) -> float:
    """Run the writer uninterrupted; return the seconds from 'ready' to exit."""
    proc = _start(script, run)
    t0 = time.perf_counter()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == "finished", err
    return time.perf_counter() - t0


def test_sigkill_and_resume_gives_the_uninterrupted_run(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    ref_dir, run_dir = tmp_path / "reference", tmp_path / "killed"
    duration = _run_to_end(script, ref_dir)

    # 1. SIGKILL at chosen points of a write (the process kills itself), checking what it leaves
    listed = lambda: {s["file"] for s in RunStore(run_dir).shards()}  # noqa: E731
    for plan, left in [
        ("tmp:shard:3", "half-written shard temp file"),
        ("renamed:shard:2", "shard file not in the manifest"),
        ("tmp:manifest:2", "half-written manifest temp file"),
        ("renamed:manifest:2", "nothing"),
        ("renamed:shard:1", "shard file not in the manifest"),
    ]:
        proc = _start(script, run_dir, plan)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, plan
        temps = [p for p in run_dir.rglob(".*.tmp")]
        orphans = [p for p in run_dir.rglob("*.parquet") if str(p.relative_to(run_dir)) not in listed()]
        if left.startswith("half-written shard"):
            assert len(temps) == 1 and temps[0].suffix == ".tmp" and ".parquet." in temps[0].name, plan
        elif left.startswith("half-written manifest"):
            assert [p.name.startswith(".manifest.json.") for p in temps] == [True] and len(orphans) == 1, plan
        elif left.startswith("shard file"):
            assert len(orphans) == 1 and not temps, plan
        else:
            assert not orphans and not temps, plan

    # 2. SIGKILL from outside at random times
    rng = random.Random(20240611)
    killed = 0
    progress = []
    for _ in range(8):
        proc = _start(script, run_dir)
        time.sleep(rng.uniform(0.0, duration / 6))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
        progress.append(len(RunStore(run_dir).done("samples", "org/toy")))
    _run_to_end(script, run_dir)
    assert killed >= 3, f"only {killed} of 8 writers were killed before they finished (done after each: {progress})"

    ref, run = RunStore(ref_dir), RunStore(run_dir)
    keys = {f"k{i:02d}" for i in range(N_KEYS)}
    assert run.done("samples", "org/toy") == keys
    shards = run.manifest["shards"]
    assert len(shards) == N_KEYS and len({s["key"] for s in shards}) == N_KEYS  # none lost, none twice
    # row for row, and byte for byte per shard
    got, want = run.read("samples", verify=True), ref.read("samples", verify=True)
    assert got.num_rows == want.num_rows
    assert got.to_pylist() == want.to_pylist()
    ref_shards = {s["key"]: s for s in ref.shards("samples")}
    for s in run.shards("samples"):
        assert (run_dir / s["file"]).read_bytes() == (ref_dir / ref_shards[s["key"]]["file"]).read_bytes()
        assert s["sha256"] == ref_shards[s["key"]]["sha256"] and s["rows"] == ref_shards[s["key"]]["rows"]
    # nothing else is left in the shard folder: no temp files, no orphans
    files = sorted(p.name for p in (run_dir / "samples").rglob("*") if p.is_file())
    assert files == sorted(f"{k}.parquet" for k in keys)
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "manifest.json", "samples"]
