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


class Crash(Exception):
    """Raised by :class:`FlakyBackend` in place of a worker that was killed."""


class FlakyBackend:
    """A real backend whose ``sample`` fails (raises :class:`Crash`) after ``crash_after`` calls: a
    worker killed mid-run, for the crash-and-resume tests of adaptive and follow-up sampling."""

    def __init__(self, backend, crash_after: int | None = None):
        self._backend, self._crash_after, self._calls = backend, crash_after, 0

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def sample(self, reqs, dec):
        self._calls += 1
        if self._crash_after is not None and self._calls > self._crash_after:
            raise Crash
        return self._backend.sample(reqs, dec)


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
