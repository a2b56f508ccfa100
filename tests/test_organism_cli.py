"""`supportscope organism pretrain` end to end (tiny sizes), then the checkpoint serves an organism task."""

from __future__ import annotations

import json

from conftest import run_cli


def test_pretrain_command_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "org"
    r = run_cli("organism", "pretrain", "--out", out, "--steps", "5", "--batch", "8", "--n-arith", "4",
                "--n-fact", "2", "--n-absent", "2", "--repeats", "4", "--hidden-size", "16", "--layers", "1",
                "--heads", "2", "--kv-heads", "1", "--intermediate-size", "32", "--train-seed", "3",
                "--corpus-seed", "1", "--log-every", "1")
    assert r.returncode == 0, r.stderr
    assert (out / "model.safetensors").is_file()
    assert json.loads((out / "train_config.json").read_text())["seed"] == 3
    assert json.loads((out / "corpus_config.json").read_text())["seed"] == 1
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    steps = [row for row in log if "step" in row]
    assert len(steps) >= 5 and all(row["loss"] > 0 for row in steps)
    assert log[-1]["done"] == 5
    run = tmp_path / "run"
    r = run_cli("sample", "--model", out, "--name", "org", "--tasks", f"organism:{out}?size=2", "--n", "2",
                "--max-new-tokens", "6", "--out", run)
    assert r.returncode == 0, r.stderr
