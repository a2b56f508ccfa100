"""benchmarks/gpu_suite.py --smoke: the GPU suite's code runs end to end on the CPU (tiny shapes, seconds), so
the first GPU run does not fail on a typo. No timings are asserted: they are what the suite reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_suite_smoke_prints_every_section(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT / "src"), CUDA_VISIBLE_DEVICES="")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--smoke"], cwd=tmp_path,
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    for b in (1, 4):
        rows = [ln for ln in lines if f"sample b={b} " in ln]
        assert {ln.split()[4] for ln in rows} == {"tree", "shared", "static", "generate"}, rows
        assert all("tok/s" in ln and "gen" in ln and "roof" in ln for ln in rows)
    for what in ("score 16 x", "prefill sharing", "bf16 vs fp32 raw logp"):
        assert sum(what in ln for ln in lines) == 1, (what, r.stdout)
