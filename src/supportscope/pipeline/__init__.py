"""Workflows (DESIGN.md section 5): what each command does, callable from Python.

The CLI (:mod:`supportscope.cli`) only parses arguments and calls these; a notebook calls the same
functions and gets the same files::

    from supportscope.pipeline import analyse, run_sample, run_score

    summary = analyse(["results.csv"], base="my-base", tuned="my-rl", out="out/my-run")
    print(summary["verdict"]["sentence"])

* :func:`analyse` / :func:`analyse_and_write` (:mod:`.analyse`): ``supportscope analyze``;
* :func:`run_sample` / :func:`run_score` (:mod:`.sample`): ``supportscope sample`` / ``score``;
* :func:`run_from_config` / :func:`load_run_config` (:mod:`.run_config`): ``supportscope run``;
* :func:`audit_data` (:mod:`.audit`): ``supportscope audit-data``;
* :func:`rebuild_report` / :func:`load_saved` (:mod:`.saved`): ``supportscope report``;
* :func:`check_out_dir` (:mod:`.outputs`): the ``--out`` check every workflow runs first;
* :func:`run_demo` (:mod:`.demo`, imports torch): ``supportscope demo``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .analyse import analyse, analyse_and_write, load_results
from .outputs import check_out_dir
from .run_config import load_run_config, run_from_config
from .sample import run_sample, run_score
from .saved import load_saved, rebuild_report

_LAZY = {"audit_data": "supportscope.pipeline.audit", "run_demo": "supportscope.pipeline.demo"}

__all__ = ["analyse", "analyse_and_write", "audit_data", "check_out_dir", "load_results", "load_run_config",
           "load_saved", "rebuild_report", "run_demo", "run_from_config", "run_sample", "run_score"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'supportscope.pipeline' has no attribute {name!r}")
