"""supportscope.store.run: the resumable run store (real files under tmp_path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import supportscope.store.run as store_mod
from supportscope.errors import InputError
from supportscope.store.schema import (
    PROBLEMS_SCHEMA,
    SAMPLES_SCHEMA,
    SCORES_SCHEMA,
    SchemaError,
    build_table,
)
from supportscope.io.schema import COUNTS_SCHEMA
from supportscope.errors import StoreError
from supportscope.store import RunStore, counts_from_samples
from supportscope.store.shard_files import fs_name

CONFIG = {"role": "base", "policy": {"name": "toy"}, "decoding": {"temperature": 1.0, "top_p": 1.0}}


def sample_rows(model: str, problem: str, idxs, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng([seed, *map(ord, problem), *map(ord, model)])
    rows = []
    for i in idxs:
        n = int(rng.integers(0, 12))
        lp = np.log(rng.uniform(0.05, 1.0, n))
        ok = bool(rng.random() < 0.4)
        rows.append({
            "problem_id": problem, "model": model, "sample_idx": int(i), "seed": int(rng.integers(0, 2**62)),
            "prompt_ids": rng.integers(0, 50_000, 5).astype(np.int32), "token_ids": rng.integers(0, 50_000, n).tolist(),
            "completion": "answer " * n, "n_tokens": n, "finish_reason": "stop" if n else "length",
            "correct": ok, "reward": float(ok), "logp_decoding": float(lp.sum()), "logp_raw": float(lp.sum() - 0.1 * n),
            "token_logp_decoding": lp, "token_logp_raw": (lp - 0.1).tolist(),
        })
    return rows


def samples(model: str, problem: str, idxs, seed: int = 0) -> pa.Table:
    return build_table("samples", sample_rows(model, problem, idxs, seed))


def new_run(tmp_path: Path, name: str = "run", models=("base",)) -> RunStore:
    store = RunStore.open(tmp_path / name)
    for m in models:
        store.register(m, {**CONFIG, "policy": {"name": m}})
    return store


# -- round trips ---------------------------------------------------------------------------------


def test_round_trip_each_kind(tmp_path):
    store = new_run(tmp_path, models=["Qwen/Qwen2.5-7B"])
    m = "Qwen/Qwen2.5-7B"
    problems = build_table("problems", [
        {"problem_id": f"p{i}", "prompt": f"{i}+1=", "answer": str(i + 1), "task": "add"} for i in range(3)
    ])
    smp = samples(m, "p0", range(4))
    scores = build_table("scores", [
        {"problem_id": "p0", "generator": m, "sample_idx": 0, "scorer": m, "logp_decoding": float("-inf"),
         "logp_raw": -3.25, "n_singular_tokens": 1, "token_logp_decoding": [float("-inf"), -0.5],
         "token_logp_raw": [-2.75, -0.5], "kl_full": 0.125, "token_kl": [0.1, 0.025]},
        {"problem_id": "p0", "generator": m, "sample_idx": 1, "scorer": m, "logp_decoding": -1.0,
         "logp_raw": -1.0, "n_singular_tokens": 0, "token_logp_decoding": [-1.0], "token_logp_raw": [-1.0]},
    ])
    for kind, table in [("problems", problems), ("samples", smp), ("scores", scores)]:
        rec = store.write_shard(kind, m, "p0", table)
        assert rec["rows"] == table.num_rows
        assert rec["file"].startswith(f"{kind}/") and rec["file"].endswith("/p0.parquet")
        assert store.done(kind, m) == {"p0"}
        assert store.models(kind) == [m]
    store.close()
    again = RunStore(tmp_path / "run")  # a fresh reader
    for kind, table, schema in [("problems", problems, PROBLEMS_SCHEMA), ("samples", smp, SAMPLES_SCHEMA),
                                ("scores", scores, SCORES_SCHEMA)]:
        got = again.read(kind, verify=True)
        assert got.schema.equals(schema)
        assert got.to_pylist() == table.to_pylist()
        assert again.read(kind, m).to_pylist() == table.to_pylist()
    assert again.read("scores").column("kl_full").to_pylist() == [0.125, None]
    # exact float64 token log-probs
    col = "token_logp_decoding"
    assert again.read("samples").column(col).to_pylist() == smp.column(col).to_pylist()
    assert again.read("samples", "nobody").num_rows == 0
    man = again.manifest
    assert man["format"] == "supportscope-run/1" and set(man) >= {"created", "entries", "shards", "versions"}
    assert man["entries"] == {m: {**CONFIG, "policy": {"name": m}}}
    assert again.entry(m) == man["entries"][m]
    assert [s["kind"] for s in man["shards"]] == ["problems", "samples", "scores"]
    assert all(set(s) == {"kind", "model", "key", "file", "rows", "sha256", "written"} for s in man["shards"])
    # model names are kept verbatim in the manifest; files stay inside RUN/<kind>/
    assert {s["model"] for s in man["shards"]} == {m}
    assert (tmp_path / "run" / man["shards"][1]["file"]).parent.parent == tmp_path / "run" / "samples"


def test_fs_names_are_safe_and_distinct():
    names = ["Qwen/Qwen2.5-7B", "Qwen_Qwen2.5-7B", "../evil", "..", ".", ".hidden", "a b", "a_b", "x" * 300, "é"]
    safe = [fs_name(n) for n in names]
    assert len(set(safe)) == len(names)
    for s in safe:
        assert s and "/" not in s and not s.startswith(".") and len(s) <= 100
    assert fs_name("Qwen_Qwen2.5-7B") == "Qwen_Qwen2.5-7B"  # already safe: unchanged


def test_write_shard_validates_the_table(tmp_path):
    store = new_run(tmp_path)
    t = samples("base", "p0", range(2))
    with pytest.raises(StoreError, match=r"samples/base/k\.parquet: table does not fit the samples schema: samples: "
                                         r"column 'reward' is missing.*Fix: build it with"):
        store.write_shard("samples", "base", "k", t.drop_columns(["reward"]))
    with pytest.raises(StoreError, match=r"column 'correct' has type string, expected bool"):
        store.write_shard("samples", "base", "k", t.set_column(t.schema.get_field_index("correct"), "correct",
                                                             pa.array(["yes", "no"])))
    with pytest.raises(StoreError, match=r"samples row 0 has model 'other', not the shard's model 'base'"):
        store.write_shard("samples", "base", "k", samples("other", "p0", range(2)))
    with pytest.raises(StoreError, match=r"model 'ghost' is not registered"):
        store.write_shard("samples", "ghost", "k", samples("ghost", "p0", range(2)))
    with pytest.raises(StoreError, match=r"unknown shard kind 'sample'"):
        store.write_shard("sample", "base", "k", t)
    # compatible types are conformed: int64 sample_idx, columns in another order
    loose = pa.table({name: t.column(name) for name in reversed(t.column_names)})
    loose = loose.set_column(loose.schema.get_field_index("sample_idx"), "sample_idx",
                             pa.array([0, 1], type=pa.int64()))
    store.write_shard("samples", "base", "k", loose)
    assert store.read("samples").to_pylist() == t.to_pylist()
    assert store.done("samples", "base") == {"k"}


def test_build_table_names_the_field():
    row = sample_rows("m", "p", [0])[0]
    with pytest.raises(SchemaError, match=r"^samples row 1: field 'n_tokens' is missing"):
        build_table("samples", [row, {k: v for k, v in row.items() if k != "n_tokens"}])
    with pytest.raises(SchemaError, match=r"samples row 0: field 'sample_idx' must be a whole number"):
        build_table("samples", [{**row, "sample_idx": "3"}])
    with pytest.raises(SchemaError, match=r"samples row 0: field 'token_logp_raw' has 1 elements but n_tokens is"):
        build_table("samples", [{**row, "token_logp_raw": [-1.0]}])
    with pytest.raises(SchemaError, match=r"field 'logp_raw' is NaN"):
        build_table("samples", [{**row, "logp_raw": float("nan")}])
    with pytest.raises(SchemaError, match=r"samples rows 0 and 1: the same row .* occurs twice"):
        build_table("samples", [row, row])
    with pytest.raises(SchemaError, match=r"unknown field 'logp'"):
        build_table("samples", [{**row, "logp": 0.0}])
    with pytest.raises(SchemaError, match=r"unknown shard kind"):
        build_table("sampels", [row])
    assert isinstance(SchemaError("x"), ValueError)


_BREAKS = [None, ("drop", "n_tokens"), ("set", "n_tokens", None), ("set", "sample_idx", "3"),
           ("set", "sample_idx", True), ("set", "logp", 0.0), ("set", "model", 7), ("row", [1, 2]),
           ("set", "finish_reason", None)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(range(len(_BREAKS))), min_size=1, max_size=6))
def test_build_table_reports_the_first_bad_row_as_a_row_by_row_check(breaks):
    """The per-type fast check gives the error a row-by-row walk gives: the first bad row, its first bad
    field (rows broken in random ways, several per table)."""
    from supportscope.store.row_checks import check_row
    from supportscope.store.schema import schema_of

    rows = []
    for i, b in enumerate(breaks):
        row = dict(sample_rows("m", "p", [i])[0])
        if b and _BREAKS[b][0] == "drop":
            row.pop(_BREAKS[b][1])
        elif b and _BREAKS[b][0] == "set":
            row[_BREAKS[b][1]] = _BREAKS[b][2]
        elif b:
            row = _BREAKS[b][1]
        rows.append(row)
    want = None
    for i, row in enumerate(rows):
        try:
            check_row("samples", schema_of("samples"), i, row)
        except SchemaError as e:
            want = str(e)
            break
    if want is None:
        build_table("samples", rows)
    else:
        with pytest.raises(SchemaError) as got:
            build_table("samples", rows)
        assert str(got.value) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "", "dd"]), st.integers(-3, 3), st.integers(0, 2)),
                max_size=30))
def test_duplicate_rows_against_brute_force(rows):
    """duplicate_rows finds a repeated key exactly when one exists, and the two rows it names share it."""
    from supportscope.store.schema import duplicate_rows

    t = pa.table({"p": [r[0] for r in rows], "m": [r[1] for r in rows], "s": [r[2] for r in rows]})
    got = duplicate_rows(t, ["p", "m", "s"])
    assert (got is not None) == (len(set(rows)) < len(rows))
    if got is not None:
        assert got[0] < got[1] and rows[got[0]] == rows[got[1]]
        assert got[0] == min(i for i, r in enumerate(rows) if rows.count(r) > 1)


# -- register -------------------------------------------------------------------------------------


def test_register_same_config_is_a_noop_and_a_different_one_is_refused(tmp_path):
    store = RunStore.open(tmp_path / "run")
    store.register("base", CONFIG)
    before = (tmp_path / "run" / "manifest.json").read_bytes()
    store.register("base", json.loads(json.dumps(CONFIG)))  # same content, new object
    assert (tmp_path / "run" / "manifest.json").read_bytes() == before
    changed = {**CONFIG, "decoding": {"temperature": 0.7, "top_p": 1.0}, "task": {"name": "gsm8k"}}
    with pytest.raises(StoreError) as info:
        store.register("base", changed)
    msg = str(info.value)
    assert "\n" not in msg
    manifest = tmp_path / "run" / "manifest.json"
    assert msg.startswith(f"{manifest}: model 'base' is already in this run with another config")
    assert "decoding.temperature: 1.0 in the run, 0.7 now" in msg
    assert 'task.name: (absent) in the run, "gsm8k" now' in msg
    assert "Fix: " in msg and "new --out folder" in msg and "--name" in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, InputError)
    # the refused config was not recorded; a resumed store sees the original
    store.close()
    assert RunStore.open(tmp_path / "run").entry("base") == CONFIG
    with pytest.raises(StoreError, match="not JSON data"):
        RunStore.open(tmp_path / "run").register("x", {"t": float("nan")})


def test_open_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("x")
    with pytest.raises(StoreError, match=r"stuff: folder is not empty and is not a supportscope run.*Fix: choose"):
        RunStore.open(tmp_path / "stuff")
    with pytest.raises(StoreError, match=r"nothere: not a supportscope run \(no manifest.json\)"):
        RunStore(tmp_path / "nothere")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text('{"format": "other/9"}')
    with pytest.raises(StoreError, match=r"manifest.json: format is 'other/9'"):
        RunStore(tmp_path / "bad")


# -- duplicates, order, determinism --------------------------------------------------------------


def test_duplicate_key_refused(tmp_path):
    store = new_run(tmp_path)
    store.write_shard("samples", "base", "p0", samples("base", "p0", range(3)))
    with pytest.raises(StoreError, match=r"samples/base/p0\.parquet: shard 'p0' of samples of model 'base' is "
                                         r"already done\. Fix: skip the keys in done"):
        store.write_shard("samples", "base", "p0", samples("base", "p0", range(3)))
    store.close()
    with pytest.raises(StoreError, match="already done"):  # also after a restart
        RunStore.open(tmp_path / "run").write_shard("samples", "base", "p0", samples("base", "p0", range(3)))
    assert len(RunStore(tmp_path / "run").manifest["shards"]) == 1


def test_discard_then_rewrite(tmp_path):
    store = new_run(tmp_path)
    store.write_shard("samples", "base", "p0", samples("base", "p0", range(3)))
    store.discard("samples", "base", "p0")
    assert store.done("samples", "base") == set()
    assert not store.shard_path("samples", "base", "p0").exists()
    store.write_shard("samples", "base", "p0", samples("base", "p0", range(2)))
    assert store.read("samples").num_rows == 2


def test_same_row_in_two_shards_is_an_error_on_read(tmp_path):
    store = new_run(tmp_path)
    store.write_shard("samples", "base", "a", samples("base", "p0", range(3)))
    store.write_shard("samples", "base", "b", samples("base", "p0", [2, 3]))
    with pytest.raises(StoreError, match=r"the same samples row occurs in two shards \(.*a\.parquet row 2 and "
                                         r".*b\.parquet row 0\)"):
        store.read("samples")
    with pytest.raises(StoreError, match="occurs in two shards"):
        counts_from_samples(store)


def test_read_is_sorted_by_key_whatever_the_write_order(tmp_path):
    keys = ["p3", "p0", "p2", "p1"]
    runs = []
    for name, order in [("a", keys), ("b", sorted(keys, reverse=True))]:
        store = new_run(tmp_path, name, models=["tuned", "base"])
        for m in ("tuned", "base"):
            for k in order:
                store.write_shard("samples", m, k, samples(m, k, range(3)))
        runs.append(store)
    a, b = (r.read("samples") for r in runs)
    assert a.to_pylist() == b.to_pylist()
    expected = [(m, k) for m in ("base", "tuned") for k in sorted(keys) for _ in range(3)]
    assert list(zip(a.column("model").to_pylist(), a.column("problem_id").to_pylist())) == expected
    assert runs[0].models("samples") == ["base", "tuned"]
    assert runs[1].read("samples", "tuned").to_pylist() == [r for r in b.to_pylist() if r["model"] == "tuned"]


def test_same_table_gives_the_same_bytes(tmp_path):
    t = samples("base", "p0", range(50))
    one, two = new_run(tmp_path, "one"), new_run(tmp_path, "two")
    one.write_shard("samples", "base", "k", t)
    # the same rows arriving in another layout: several chunks, columns reordered
    chunked = pa.concat_tables([t.slice(0, 17), t.slice(17)])
    chunked = chunked.select(list(reversed(chunked.column_names)))
    two.write_shard("samples", "base", "k", chunked)
    f1, f2 = one.shard_path("samples", "base", "k"), two.shard_path("samples", "base", "k")
    assert f1.read_bytes() == f2.read_bytes()
    assert one.manifest["shards"][0]["sha256"] == two.manifest["shards"][0]["sha256"]
    meta = pq.read_metadata(f1)
    assert set(meta.metadata) == {b"ARROW:schema"}  # no time stamps or pandas metadata
    assert meta.created_by.startswith("parquet-cpp-arrow")
    # another process writes the same bytes
    code = ("import sys, pyarrow.parquet as pq; from supportscope.store.shard_files import parquet_bytes, stored_table; "
            "from supportscope.store.schema import conform; "
            "sys.stdout.buffer.write(parquet_bytes(stored_table('samples', conform('samples', pq.read_table(sys.argv[1])))))")
    out = subprocess.run([sys.executable, "-c", code, str(f1)], capture_output=True, check=True).stdout
    assert out == f1.read_bytes()


# -- verify, missing and corrupt shards -----------------------------------------------------------


def test_verify_detects_a_modified_shard(tmp_path):
    store = new_run(tmp_path)
    store.write_shard("samples", "base", "p0", samples("base", "p0", range(4)))
    path = store.shard_path("samples", "base", "p0")
    # same row count, other content: only the hash can tell
    pq.write_table(samples("base", "p0", range(4), seed=1), path)
    assert store.read("samples", verify=False).num_rows == 4
    with pytest.raises(StoreError) as info:
        store.read("samples")  # verified by default
    msg = str(info.value)
    assert msg.startswith(f"{path}: content changed since it was written (sha256 ")
    assert "\n" not in msg
    assert ("Fix: restore the file from a backup, or discard the shard with python -c \"from supportscope.store "
            "import RunStore; RunStore(") in msg
    assert ".discard('samples', 'base', 'p0')\" and rerun the same `supportscope sample`" in msg
    with pytest.raises(StoreError, match="content changed"):
        counts_from_samples(store)
    # another row count is caught without verify
    pq.write_table(samples("base", "p0", range(3)), path)
    with pytest.raises(StoreError, match=r"p0\.parquet: has 3 rows, manifest.json says 4"):
        store.read("samples", verify=False)
    path.write_bytes(b"PAR1 garbage")
    with pytest.raises(StoreError, match=r"p0\.parquet: not a readable Parquet file"):
        store.read("samples", verify=False)
    path.unlink()
    with pytest.raises(StoreError, match=r"p0\.parquet: shard listed in .*manifest.json is missing\. Fix: restore"):
        store.read("samples")
    store.discard("samples", "base", "p0")  # the documented fix
    store.write_shard("samples", "base", "p0", samples("base", "p0", range(4)))
    assert store.read("samples").num_rows == 4


# -- crash windows, reproduced in-process ---------------------------------------------------------


def test_killed_between_shard_rename_and_manifest_update(tmp_path, monkeypatch):
    store = new_run(tmp_path)
    real = store_mod.atomic_write

    def crash_on_manifest(final, data):
        if final.name == "manifest.json":
            raise KeyboardInterrupt("simulated kill")
        real(final, data)

    monkeypatch.setattr(store_mod, "atomic_write", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        store.write_shard("samples", "base", "p0", samples("base", "p0", range(3), seed=5))
    monkeypatch.setattr(store_mod, "atomic_write", real)
    orphan = store.shard_path("samples", "base", "p0")
    assert orphan.exists() and store.done("samples", "base") == set()
    store.close()
    resumed = RunStore.open(tmp_path / "run")
    assert resumed.done("samples", "base") == set()
    assert resumed.read("samples").num_rows == 0  # the orphan file is not part of the run
    resumed.write_shard("samples", "base", "p0", samples("base", "p0", range(2)))  # overwritten
    assert resumed.read("samples", verify=True).to_pylist() == samples("base", "p0", range(2)).to_pylist()
    assert len(resumed.manifest["shards"]) == 1


def test_temp_files_of_a_killed_writer_are_removed_on_resume(tmp_path):
    store = new_run(tmp_path)
    store.write_shard("samples", "base", "p0", samples("base", "p0", range(2)))
    store.close()
    shard_dir = tmp_path / "run" / "samples" / "base"
    stale = [shard_dir / ".p1.parquet.999.abcd.tmp", tmp_path / "run" / ".manifest.json.999.abcd.tmp"]
    for p in stale:
        p.write_bytes(b"half written")
    reader = RunStore(tmp_path / "run")
    assert reader.read("samples").num_rows == 2 and all(p.exists() for p in stale)  # readers touch nothing
    writer = RunStore.open(tmp_path / "run")
    writer.write_shard("samples", "base", "p1", samples("base", "p1", range(2)))
    assert not any(p.exists() for p in stale)
    assert sorted(p.name for p in shard_dir.iterdir()) == ["p0.parquet", "p1.parquet"]


def test_a_run_killed_while_being_created_can_be_opened(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text("123\n")
    (run / ".manifest.json.123.abcd.tmp").write_text("{")
    store = RunStore.open(run)
    assert store.manifest["shards"] == [] and not (run / ".manifest.json.123.abcd.tmp").exists()


# -- lock -----------------------------------------------------------------------------------------

HOLDER = """
import sys
from supportscope.store.run import RunStore
store = RunStore.open(sys.argv[1])
store.register("base", {"role": "base"})
print("locked", flush=True)
sys.stdin.read()
"""


def test_lock_refuses_a_second_writer(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        other = RunStore(run)
        with pytest.raises(StoreError) as info:
            other.register("base", {"role": "base"})
        assert str(info.value) == (f"{run}: the run is being written by another process (pid {holder.pid}). Fix: wait "
                                   "for it to finish or stop it (a stopped or killed process releases the run), "
                                   "or write to another --out folder")
        with pytest.raises(StoreError, match=f"pid {holder.pid}"):
            RunStore.open(run).write_shard("samples", "base", "k", samples("base", "p0", range(1)))
        assert other.read("samples").num_rows == 0  # reading needs no lock
        assert other.entry("base") == {"role": "base"}
    finally:
        holder.kill()  # SIGKILL: the OS releases the lock
        holder.wait()
    other.write_shard("samples", "base", "k", samples("base", "p0", range(1)))
    assert other.writing and other.done("samples", "base") == {"k"}


def test_two_stores_in_one_process(tmp_path):
    first = new_run(tmp_path)
    with pytest.raises(StoreError, match="being written by another RunStore of this process"):
        RunStore(tmp_path / "run").register("base", {**CONFIG, "policy": {"name": "base"}})
    reader = RunStore(tmp_path / "run")
    first.write_shard("samples", "base", "p0", samples("base", "p0", range(2)))
    assert reader.done("samples", "base") == {"p0"}  # a reader sees new shards
    first.close()
    with RunStore(tmp_path / "run") as second:
        second.write_shard("samples", "base", "p1", samples("base", "p1", range(2)))
    assert not second.writing


# -- counts ---------------------------------------------------------------------------------------


def _write_random_run(tmp_path: Path) -> RunStore:
    rng = np.random.default_rng(7)
    store = new_run(tmp_path, models=["tuned", "base"])
    for m in ("tuned", "base"):
        for k in rng.permutation(8):
            # shard k holds samples of two problems; each problem's samples span two shards
            rows = []
            for p in (k, (k + 1) % 8):
                lo = 0 if p == k else 100
                rows += sample_rows(m, f"prob{p}", range(lo, lo + int(rng.integers(1, 6))), seed=int(k))
            store.write_shard("samples", m, f"shard{k:02d}", build_table("samples", rows))
    return store


def test_counts_from_samples_equals_a_brute_force_count(tmp_path):
    store = _write_random_run(tmp_path)
    got = counts_from_samples(store)
    assert got.schema.equals(COUNTS_SCHEMA)
    expected: dict = {}
    n, c = defaultdict(int), defaultdict(int)
    for rec in store.shards("samples"):  # sorted by (model, key)
        path = tmp_path / "run" / rec["file"]
        for line, row in enumerate(pq.read_table(path).to_pylist()):
            key = (row["problem_id"], row["model"])
            expected.setdefault(key, (str(path), line))
            n[key] += 1
            c[key] += int(row["correct"])
    want = [{"problem_id": p, "model": m, "n": n[(p, m)], "correct": c[(p, m)], "source": src, "line": line}
            for (p, m), (src, line) in expected.items()]
    assert got.to_pylist() == want
    assert counts_from_samples(tmp_path / "run", verify=True).to_pylist() == want  # a path works too
    assert counts_from_samples(new_run(tmp_path, "empty")).num_rows == 0


def test_counts_from_samples_matches_load_counts_on_the_shard_files(tmp_path):
    from supportscope.io import load_counts

    store = _write_random_run(tmp_path)
    files = [tmp_path / "run" / r["file"] for r in store.shards("samples")]
    got = counts_from_samples(store)
    ref = load_counts([str(f) for f in files])
    key = lambda r: (r["problem_id"], r["model"])  # noqa: E731
    assert sorted(got.to_pylist(), key=key) == sorted(ref.to_pylist(), key=key)


def test_versions_of_a_resumed_run_are_noted(tmp_path):
    RunStore.open(tmp_path / "run", versions={"torch": "2.4"}).close()
    RunStore.open(tmp_path / "run", versions={"torch": "2.4"}).register("m", {})
    store = RunStore.open(tmp_path / "run", versions={"torch": "2.5"})
    store.register("m", {})
    man = store.manifest
    assert man["versions"] == {"torch": "2.4"}
    assert [r["versions"] for r in man["resumed"]] == [{"torch": "2.5"}]
    assert os.path.exists(tmp_path / "run" / ".lock")
