"""Shared fixtures: the bundled MATH500 example and a helper that runs the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "math500_qwen25_7b_base_vs_rl_counts.csv"
BASE, TUNED = "qwen2.5-7b-base", "qwen2.5-7b-simplerl-zoo"


@pytest.fixture
def example_csv() -> Path:
    return EXAMPLE


def run_cli(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "supportscope", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Single-token decoding steps are tiny ops: with 2 OpenMP threads on a 2-core machine that is also
    running other work, every op waits for a descheduled thread (measured 10-20x slower). Model test
    modules use this (pytestmark); torch is imported only here, not by the other tests."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
