"""Benchmark: reading lm-eval ``--log_samples`` files into counts (issue 18).

Run with ``python benchmarks/import_lmeval.py [--rows 1000000]``. Writes an lm-eval output folder
(``org__model/samples_gsm8k_<date>.jsonl`` + ``results_<date>.json``) with ``--rows`` sample rows in
the real layout (doc, arguments, resps, filtered_resps, filter, metrics, sha256 hashes,
exact_match; two filters, so half the rows are counted with ``--filter strict-match``), then times,
each in a fresh process:

* supportscope: ``io.load_counts`` (sniffed as lm-eval) -> the counts table;
* reference: a plain ``json.loads`` of every line, keeping doc_id and exact_match of one filter.

Prints wall time and peak RSS of each, and the ratio supportscope / reference (target: seconds
and < 1 GB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATE = "2026-01-02T03-04-05.678901"


def write(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"samples_gsm8k_{DATE}.jsonl"
    docs = rows // 2
    with open(path, "w", encoding="utf-8") as f:
        for flt in ("strict-match", "flexible-extract"):
            lines = []
            for i in range(docs):
                q = f"Natalia sold clips to {i} of her friends in April, and then half as many in May. How many?"
                prompt = f"Question: {q}\nAnswer:"
                gen = f"She sold {i} + {i // 2} = {i + i // 2} clips. #### {i + i // 2}"
                row = {"doc_id": i, "doc": {"question": q, "answer": f"#### {i + i // 2}"}, "target": str(i + i // 2),
                       "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["Question:"], "do_sample": False}}},
                       "resps": [[gen]], "filtered_resps": [str(i + i // 2)], "filter": flt, "metrics": ["exact_match"],
                       "doc_hash": hashlib.sha256(q.encode()).hexdigest(),
                       "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
                       "target_hash": hashlib.sha256(str(i).encode()).hexdigest(), "exact_match": float(i % 3 == 0)}
                lines.append(json.dumps(row))
                if len(lines) == 10000:
                    f.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                f.write("\n".join(lines) + "\n")
    cfg = {"repeats": 1, "filter_list": [{"name": "strict-match", "filter": [{"function": "take_first"}]},
                                         {"name": "flexible-extract", "filter": [{"function": "take_first"}]}]}
    (folder / f"results_{DATE}.json").write_text(json.dumps({"model_name": "org/model", "configs": {"gsm8k": cfg}}))
    return path


def child(kind: str, path: str) -> None:
    t0 = time.perf_counter()
    if kind == "load":
        from supportscope.io import load_counts
        from supportscope.io.importers import ImportOptions

        table = load_counts([path], options=ImportOptions(filter="strict-match"), note=lambda _: None)
        rows, correct = table.num_rows, sum(table["correct"].to_pylist())
    else:
        rows = correct = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                obj = json.loads(line)
                if obj["filter"] == "strict-match":
                    rows += 1
                    correct += obj["exact_match"] >= 1.0
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall": wall, "rss": rss, "rows": rows, "correct": int(correct)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = write(Path(tmp) / "org__model", args.rows)
        size = path.stat().st_size
        print(f"wrote {args.rows} lm-eval sample rows ({size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        out = {}
        for kind in ("load", "reference"):
            r = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True,
                               check=True)
            out[kind] = json.loads(r.stdout.strip().splitlines()[-1])
            name = "supportscope load_counts" if kind == "load" else "json.loads per line"
            print(f"{name:26s} {out[kind]['wall']:6.2f} s  peak RSS {out[kind]['rss'] / 2**20:6.0f} MiB  "
                  f"({out[kind]['rows']} problems, {out[kind]['correct']} correct)")
        assert (out["load"]["rows"], out["load"]["correct"]) == (out["reference"]["rows"], out["reference"]["correct"])
        print(f"ratio supportscope / reference: time {out['load']['wall'] / out['reference']['wall']:.2f}x, "
              f"peak RSS {out['load']['rss'] / out['reference']['rss']:.2f}x")


if __name__ == "__main__":
    main()
