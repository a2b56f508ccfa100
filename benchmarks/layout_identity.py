"""Outputs are byte-identical across a refactor: run the tool, hash what it writes, compare.

What is hashed (SHA-256):

- the MATH500 example through ``supportscope analyze``: ``summary.json`` without ``versions``
  (re-serialised with sorted keys), ``per_problem.csv`` and ``report.html`` (raw bytes);
- a sample run of a tiny random Llama on 12 problems that is SIGKILLed after its second shard and
  resumed, plus ``score`` of it by the other model: every shard file's bytes, by shard key. The
  resumed run must also equal an uninterrupted one shard for shard.

Usage (from the repository root, with the venv)::

    python benchmarks/layout_identity.py --write benchmarks/layout_reference.json   # before
    python benchmarks/layout_identity.py                                             # after: compare

Hashes depend on the library versions and the platform (Parquet writer, matplotlib's SVG), so a
reference is only meaningful on the machine and environment that wrote it; it records both.
Exit code 0 when every hash matches, 1 otherwise (the differing entries are printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "math500_qwen25_7b_base_vs_rl_counts.csv"
PROBLEMS = [{"id": f"q{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i)} for i in range(12)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cli(*args: object, cwd: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, "-m", "supportscope", *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"supportscope {' '.join(map(str, args))} failed:\n{r.stderr}")


def analyze_hashes(work: Path) -> dict[str, str]:
    shutil.copy(EXAMPLE, work / "math500.csv")
    cli("analyze", "math500.csv", "--base", "qwen2.5-7b-base", "--tuned", "qwen2.5-7b-simplerl-zoo",
        "--out", "m5", cwd=work)
    summary = json.loads((work / "m5" / "summary.json").read_text())
    summary.pop("versions")
    return {
        "math500/summary.json (minus versions)": sha(json.dumps(summary, sort_keys=True).encode()),
        "math500/per_problem.csv": sha((work / "m5" / "per_problem.csv").read_bytes()),
        "math500/report.html": sha((work / "m5" / "report.html").read_bytes()),
    }


def shard_bytes(run: Path) -> dict[str, bytes]:
    man = json.loads((run / "manifest.json").read_text())
    return {f"{s['kind']}/{s['model']}/{s['key']}": (run / s["file"]).read_bytes() for s in man["shards"]}


def sample_args(model: Path, problems: Path, run: Path) -> list[object]:
    return ["sample", "--model", model, "--name", "base", "--tasks", problems, "--n", "4", "--max-new-tokens",
            "8", "--top-p", "0.9", "--problems-per-shard", "2", "--out", run]


def killed_and_resumed(work: Path, model: Path, problems: Path, run: Path) -> None:
    """Start the sample run, SIGKILL it once two shards are in the manifest, then resume it."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "supportscope", *map(str, sample_args(model, problems, run))]
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        if (work / run / "manifest.json").exists() and len(shard_bytes(work / run)) >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    cli(*sample_args(model, problems, run), cwd=work)


def run_hashes(work: Path) -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "src"))
    from supportscope.models.tiny import char_tokenizer, save_tiny_llama

    # paths relative to `work` (they are recorded in the run), so two checkouts write the same bytes
    tok = char_tokenizer()
    save_tiny_llama(work / "base", seed=0, tokenizer=tok)
    save_tiny_llama(work / "tuned", seed=1, tokenizer=tok)
    (work / "problems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    base, tuned, problems = Path("base"), Path("tuned"), Path("problems.jsonl")
    ref, run = Path("uninterrupted"), Path("resumed")
    cli(*sample_args(base, problems, ref), cwd=work)
    killed_and_resumed(work, base, problems, run)
    for r in (ref, run):
        cli("score", r, "--scorer", tuned, "--name", "tuned", cwd=work)
    got, want = shard_bytes(work / run), shard_bytes(work / ref)
    if got != want:
        raise SystemExit("the resumed run's shards differ from the uninterrupted run's")
    return {f"resumed-run/{k}": sha(v) for k, v in sorted(got.items())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", type=Path, help="write the hashes to this file (the reference)")
    ap.add_argument("--reference", type=Path, default=ROOT / "benchmarks" / "layout_reference.json",
                    help="compare with this reference (default: benchmarks/layout_reference.json)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hashes = {**analyze_hashes(work), **run_hashes(work)}
    from supportscope.versions import library_versions

    if args.write:
        args.write.write_text(json.dumps({"versions": library_versions(), "hashes": hashes}, indent=1) + "\n")
        print(f"wrote {len(hashes)} hashes to {args.write}")
        return 0
    ref = json.loads(args.reference.read_text())["hashes"]
    bad = sorted(k for k in ref.keys() | hashes.keys() if ref.get(k) != hashes.get(k))
    for k in bad:
        print(f"DIFFERS  {k}: reference {ref.get(k, '-')[:12]}, now {hashes.get(k, '-')[:12]}")
    print(f"{len(hashes) - len(bad)} of {len(ref.keys() | hashes.keys())} outputs identical to {args.reference.name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
