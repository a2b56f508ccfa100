"""Benchmark: reading a run with SHA-256 verification vs. without (issue 14, "Data integrity").

Run with ``python benchmarks/store_verify.py [--samples 100000] [--shards 100] [--dir DIR]``.
It writes a run of ``--samples`` samples in ``--shards`` shards (rows like a real sampler's:
token ids, per-token log-probs, completion text; see tests/test_store_kill.py), then times, best
of ``--repeats`` each and interleaved:

* ``RunStore.read("samples")`` (verified: each shard's bytes read once, hashed, parsed from the
  same buffer) against the same read with ``verify=False`` (the reference: no hashing, Parquet
  read from the file), and against ``pyarrow.parquet.read_table`` on each shard file;
* ``counts_from_samples`` (4 of the columns) verified and not;
* opening the run (reading the manifest, every shard file checked to lie inside the run) and
  ``RunStore.verify()`` (what a resumed job runs first: every shard hashed, not parsed).

Exit status 1 if the verified full read costs more than ``--target`` (1.2) times the reference.
The files stay in the OS page cache across repeats, so this measures the CPU cost of hashing,
the worst case for the ratio (a cold read from disk makes both sides slower by the same I/O).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from supportscope.store import RunStore, build_table, counts_from_samples

MODEL = "org/toy"


def rows(key: str, count: int) -> list[dict]:
    """``count`` samples of problem ``prob-KEY`` (the row generator of tests/test_store_kill.py)."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    out = []
    for j in range(count):
        n = int(rng.integers(1, 40))
        lp = np.log(rng.uniform(0.01, 1.0, n))
        ok = bool(rng.random() < 0.3)
        out.append({"problem_id": "prob-" + key, "model": MODEL, "sample_idx": j,
                    "seed": int(rng.integers(0, 2**63 - 1)), "prompt_ids": rng.integers(0, 1000, 8),
                    "token_ids": rng.integers(0, 32000, n), "completion": "t" * n, "n_tokens": n,
                    "finish_reason": "stop", "correct": ok, "reward": float(ok),
                    "logp_decoding": float(lp.sum()), "logp_raw": float((lp * 1.1).sum()),
                    "token_logp_decoding": lp, "token_logp_raw": lp * 1.1})
    return out


def build_run(path: Path, samples: int, shards: int) -> RunStore:
    with RunStore.open(path, versions={"benchmark": "1"}) as store:
        store.register(MODEL, {"role": "base", "decoding": {"temperature": 1.0}, "task": {"name": "toy"}})
        per, extra = divmod(samples, shards)
        for i in range(shards):
            key = f"k{i:04d}"
            store.write_shard("samples", MODEL, key, build_table("samples", rows(key, per + (i < extra))))
    return RunStore(path)


def best_of(fns: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """Best wall time and best CPU time (all threads of this process) of each function, the
    functions interleaved in every repeat. CPU time is the steadier measure on a busy machine."""
    best = {name: (float("inf"), float("inf")) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--shards", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--target", type=float, default=1.2)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the run (default: a temp folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.perf_counter()
        store = build_run(Path(tmp) / "run", args.samples, args.shards)
        size = sum((store.path / s["file"]).stat().st_size for s in store.shards("samples"))
        print(f"run: {args.samples} samples in {args.shards} shards, {size / 1e6:.1f} MB of Parquet "
              f"(built in {time.perf_counter() - t0:.1f} s)")
        files = [store.path / s["file"] for s in store.shards("samples")]
        full = store.read("samples")
        assert full.num_rows == args.samples and full.equals(store.read("samples", verify=False))
        best = best_of({
            "read, verified": lambda: store.read("samples", verify=True),
            "read, verify=False": lambda: store.read("samples", verify=False),
            "pq.read_table per shard": lambda: pa.concat_tables([pq.read_table(f) for f in files]),
            "counts, verified": lambda: counts_from_samples(store, verify=True),
            "counts, verify=False": lambda: counts_from_samples(store, verify=False),
            "open (path rule)": lambda: RunStore(store.path),
            "verify() (resume check)": store.verify,
        }, args.repeats)
    print(f"  {'':<26} {'wall':>8}    {'CPU':>8}")
    for name, (wall, cpu) in best.items():
        print(f"  {name:<26} {wall * 1e3:8.1f} ms {cpu * 1e3:8.1f} ms")

    def ratio(a: str, b: str, i: int = 0) -> float:
        return best[a][i] / best[b][i]

    read = ratio("read, verified", "read, verify=False")
    print(f"verified / unverified read: {read:.3f}x wall, {ratio('read, verified', 'read, verify=False', 1):.3f}x "
          f"CPU (vs pq.read_table: {ratio('read, verified', 'pq.read_table per shard'):.3f}x wall); "
          f"target <= {args.target}x")
    print(f"counts_from_samples verified / unverified: {ratio('counts, verified', 'counts, verify=False'):.3f}x "
          f"wall, {ratio('counts, verified', 'counts, verify=False', 1):.3f}x CPU (unverified reads 4 columns only)")
    return 0 if read <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
