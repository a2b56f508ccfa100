"""Data integrity of the run store (issue 14): every read checks each shard's SHA-256 against the
manifest, a resumed job refuses a changed done shard instead of skipping it, and no path taken from
a manifest leads out of the run directory (not for reading, not for discard)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from supportscope.errors import StoreError
from supportscope.store import RunStore, build_table, counts_from_samples
from supportscope.store.shard_files import parquet_bytes

MODEL = "org/toy"
CONFIG = {"role": "base", "decoding": {"temperature": 1.0}, "task": {"name": "toy"}}


def rows(key: str, count: int = 20) -> list[dict]:
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    out = []
    for j in range(count):
        n = int(rng.integers(1, 12))
        lp = np.log(rng.uniform(0.01, 1.0, n))
        ok = bool(rng.random() < 0.3)
        out.append({"problem_id": "prob-" + key, "model": MODEL, "sample_idx": j, "seed": int(rng.integers(0, 2**62)),
                    "prompt_ids": rng.integers(0, 1000, 4), "token_ids": rng.integers(0, 32000, n),
                    "completion": "t" * n, "n_tokens": n, "finish_reason": "stop", "correct": ok,
                    "reward": float(ok), "logp_decoding": float(lp.sum()), "logp_raw": float(lp.sum()),
                    "token_logp_decoding": lp, "token_logp_raw": lp})
    return out


def new_run(tmp_path, keys=("k0", "k1", "k2")) -> RunStore:
    store = RunStore.open(tmp_path / "run", versions={"test": "1"})
    store.register(MODEL, CONFIG)
    for key in keys:
        store.write_shard("samples", MODEL, key, build_table("samples", rows(key)))
    return store


def flip_correct(path) -> None:
    """Rewrite the shard as valid Parquet with the same schema, rows and writer options, but with
    the ``correct`` column flipped: nothing but its hash tells it from the original."""
    t = pq.read_table(path)
    i = t.schema.get_field_index("correct")
    t = t.set_column(i, t.schema.field(i), pc.invert(t.column("correct")))
    before = pq.read_schema(path)
    path.write_bytes(parquet_bytes(t))
    assert pq.read_schema(path).equals(before, check_metadata=True) and pq.read_metadata(path).num_rows == t.num_rows


def manifest_of(store: RunStore) -> dict:
    return json.loads((store.path / "manifest.json").read_text())


def write_manifest(store: RunStore, manifest: dict) -> None:
    (store.path / "manifest.json").write_text(json.dumps(manifest))


# -- sha256 on every read ---------------------------------------------------------------------------


def test_flipped_correct_column_is_refused_on_every_read(tmp_path):
    store = new_run(tmp_path)
    before = counts_from_samples(store)
    path = store.shard_path("samples", MODEL, "k1")
    old_sha = store.shards("samples")[1]["sha256"]
    flip_correct(path)  # valid Parquet, same rows and schema
    new_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    for read in (lambda: store.read("samples"), lambda: store.read("samples", MODEL),
                 lambda: store.read_shards("samples", columns=["correct"]),
                 lambda: counts_from_samples(store), lambda: counts_from_samples(tmp_path / "run"),
                 lambda: store.verify(), lambda: store.verify("samples", MODEL)):
        with pytest.raises(StoreError) as info:
            read()
        msg = str(info.value)
        assert "\n" not in msg
        assert msg.startswith(f"{path}: content changed since it was written "
                              f"(sha256 {new_sha[:12]}..., manifest.json has {old_sha[:12]}...). Fix: ")
        assert f".discard('samples', {MODEL!r}, 'k1')" in msg and "`supportscope sample`" in msg
    # a fresh reader too, and the explicit opt-out reads the changed numbers
    with pytest.raises(StoreError, match="k1.parquet: content changed"):
        RunStore(tmp_path / "run").read("samples")
    flipped = counts_from_samples(store, verify=False)
    assert flipped.column("correct").to_pylist()[1] == 20 - before.column("correct").to_pylist()[1]
    assert store.verify("problems") == 0


def test_verified_reads_match_and_report_in_shard_order(tmp_path):
    """Shard i+1 is hashed while shard i is parsed: same tables, and the first bad shard is named."""
    store = new_run(tmp_path, keys=[f"k{i}" for i in range(6)])
    assert store.read("samples").equals(store.read("samples", verify=False))
    cols = ["problem_id", "correct"]
    assert [t.to_pylist() for _, t in store.read_shards("samples", columns=cols)] == \
        [t.to_pylist() for _, t in store.read_shards("samples", verify=False, columns=cols)]
    for key in ("k4", "k2"):
        flip_correct(store.shard_path("samples", MODEL, key))
    with pytest.raises(StoreError, match=r"k2\.parquet: content changed"):
        store.read("samples")
    store.close()
    manifest = manifest_of(store)
    manifest["shards"][0]["rows"] = 21  # an error found when parsing k0 comes first
    write_manifest(store, manifest)
    with pytest.raises(StoreError, match=r"k0\.parquet: has 20 rows, manifest\.json says 21"):
        RunStore(tmp_path / "run").read("samples")


def test_the_fix_in_the_message_works(tmp_path):
    """Run the command the error names, resume the writer: the run reads again, same bytes."""
    store = new_run(tmp_path)
    path = store.shard_path("samples", MODEL, "k1")
    good = path.read_bytes()
    flip_correct(path)
    store.close()  # the command takes the writer lock
    with pytest.raises(StoreError) as info:
        RunStore(tmp_path / "run").read("samples")
    code = re.search(r'python -c "([^"]+)"', str(info.value)).group(1)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())
    resumed = RunStore.open(tmp_path / "run")
    assert resumed.done("samples", MODEL) == {"k0", "k2"} and not path.exists()
    resumed.write_shard("samples", MODEL, "k1", build_table("samples", rows("k1")))  # what a resumed job does
    assert path.read_bytes() == good and resumed.read("samples").num_rows == 60


def test_verify_names_the_first_bad_shard_and_counts_the_rest(tmp_path):
    store = new_run(tmp_path)
    assert store.verify() == 3 and store.verify("samples", "nobody") == 0
    flip_correct(store.shard_path("samples", MODEL, "k0"))
    store.shard_path("samples", MODEL, "k2").unlink()
    with pytest.raises(StoreError) as info:
        store.verify()
    msg = str(info.value)
    assert msg.startswith(f"{store.shard_path('samples', MODEL, 'k0')}: content changed")
    assert "(and 1 more shard changed or missing). Fix: " in msg
    store.discard("samples", MODEL, "k0")
    with pytest.raises(StoreError, match=r"k2\.parquet: shard listed in .*manifest\.json is missing\. Fix: "):
        store.verify()


def test_quoted_fix_for_awkward_names(tmp_path):
    store = RunStore.open(tmp_path / "run")
    name = 'it\'s "odd" $HOME'
    store.register(name, CONFIG)
    t = build_table("samples", [{**r, "model": name} for r in rows("k")])
    store.write_shard("samples", name, "k", t)
    store.close()
    flip_correct(store.shard_path("samples", name, "k"))
    with pytest.raises(StoreError) as info:
        store.read("samples")
    cmd = re.search(r"python -c (.+) and rerun the same", str(info.value)).group(1)
    subprocess.run(f"{sys.executable} -c {cmd}", shell=True, check=True)  # the shell gets the name verbatim
    assert RunStore(tmp_path / "run").done("samples", name) == set()


# -- resume: a job checks its done shards before it skips them ------------------------------------


@pytest.fixture(scope="module")
def organism():
    from supportscope.models.config import DecodingConfig, Policy
    from supportscope.organism.exact import organism_backend
    from supportscope.organism.task import CHECKPOINT
    from supportscope.tasks import load_task

    return organism_backend(), Policy(model=str(CHECKPOINT), name="base"), DecodingConfig(max_new_tokens=8, seed=3), \
        load_task("organism:?size=2")


@pytest.mark.usefixtures("one_torch_thread")
def test_resumed_sample_job_refuses_a_changed_done_shard(tmp_path, organism):
    from supportscope.scale.jobs import sample_job

    backend, policy, dec, task = organism
    run = tmp_path / "run"
    with RunStore.open(run, versions={"test": "1"}) as store:
        assert sample_job(store, backend, "base", policy, dec, task, 4, problems_per_shard=4) > 0
        assert sample_job(store, backend, "base", policy, dec, task, 4, problems_per_shard=4) == 0  # all done
        key = min(store.done("samples", "base"))
    path = RunStore(run).shard_path("samples", "base", key)
    good = path.read_bytes()
    flip_correct(path)
    with RunStore.open(run, versions={"test": "1"}) as store:
        with pytest.raises(StoreError, match=re.escape(f"{path}: content changed since it was written")):
            sample_job(store, backend, "base", policy, dec, task, 4, problems_per_shard=4)  # not "wrote 0"
        store.discard("samples", "base", key)  # the fix; the rerun writes the same bytes again
        assert sample_job(store, backend, "base", policy, dec, task, 4, problems_per_shard=4) > 0
    assert path.read_bytes() == good
    (run / "problems" / "base" / "all.parquet").unlink()
    with RunStore.open(run, versions={"test": "1"}) as store, pytest.raises(StoreError, match=r"all\.parquet: shard"):
        sample_job(store, backend, "base", policy, dec, task, 4, problems_per_shard=4)


@pytest.mark.usefixtures("one_torch_thread")
def test_resumed_score_job_refuses_a_changed_done_or_input_shard(tmp_path, organism):
    from dataclasses import replace

    from supportscope.scale.jobs import SCORER_PREFIX, sample_job, score_job

    backend, policy, dec, task = organism
    scorer = replace(policy, name="scorer")
    run = tmp_path / "run"
    with RunStore.open(run, versions={"test": "1"}) as store:
        sample_job(store, backend, "base", policy, dec, task, 2, problems_per_shard=4)
        assert score_job(store, backend, "scorer", scorer) > 0
        assert score_job(store, backend, "scorer", scorer) == 0
        name = SCORER_PREFIX + "scorer"
        scores = store.shard_path("scores", name, min(store.done("scores", name)))
        samples = store.shard_path("samples", "base", min(store.done("samples", "base")))
    t = pq.read_table(scores)
    i = t.schema.get_field_index("logp_raw")
    scores.write_bytes(parquet_bytes(t.set_column(i, t.schema.field(i), pc.multiply(t.column(i), 2.0))))
    with RunStore.open(run, versions={"test": "1"}) as store:
        with pytest.raises(StoreError, match=re.escape(f"{scores}: content changed")) as info:
            score_job(store, backend, "scorer", scorer)
        assert "`supportscope score`" in str(info.value)
    flip_correct(samples)  # the generator's samples the scorer reads
    with RunStore.open(run, versions={"test": "1"}) as store, \
            pytest.raises(StoreError, match=re.escape(f"{samples}: content changed")):
        score_job(store, backend, "scorer", scorer)


@pytest.mark.usefixtures("one_torch_thread")
def test_resumed_adaptive_job_refuses_a_changed_done_shard(tmp_path, organism):
    from supportscope.scale.adaptive import AdaptiveConfig, adaptive_sample_job

    backend, policy, dec, task = organism
    cfg = AdaptiveConfig(adaptive=True, budget=16, max_n=32, round=16)
    run = tmp_path / "run"
    with RunStore.open(run, versions={"test": "1"}) as store:
        adaptive_sample_job(store, backend, "base", policy, dec, task, cfg, problems_per_shard=4)
        key = min(store.done("samples", "base"))
    flip_correct(RunStore(run).shard_path("samples", "base", key))
    with RunStore.open(run, versions={"test": "1"}) as store, pytest.raises(StoreError, match="content changed"):
        adaptive_sample_job(store, backend, "base", policy, dec, task, cfg, problems_per_shard=4)


# -- paths from the manifest stay inside the run ----------------------------------------------------


@pytest.mark.parametrize("bad, why", [
    ("../../victim.txt", "goes up out of its folder with '..'"),
    ("samples/../../victim.txt", "goes up out of its folder with '..'"),
    ("ABSOLUTE", "is an absolute path"),
    ("manifest.json", "is not a .parquet file under the run's samples/ folder"),
    ("scores/org_toy/k0.parquet", "is not a .parquet file under the run's samples/ folder"),
    ("samples\\..\\..\\victim.txt", "has a backslash"),
])
def test_a_manifest_file_outside_the_run_is_refused(tmp_path, bad, why):
    new_run(tmp_path).close()
    store = RunStore(tmp_path / "run")  # a reader that has read the good manifest
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    bad = str(victim) if bad == "ABSOLUTE" else bad
    manifest = manifest_of(store)
    manifest["shards"][1]["file"] = bad
    write_manifest(store, manifest)
    want = (f"{store.path / 'manifest.json'}: shard record 1 (samples 'k1' of model {MODEL!r}) names file "
            f"{bad!r}, which {why}")
    for attempt in (lambda: RunStore(tmp_path / "run"), lambda: RunStore.open(tmp_path / "run"),
                    lambda: store.read("samples"),  # the open reader re-reads the changed manifest
                    lambda: store.discard("samples", MODEL, "k1")):  # so does a writer, before deleting
        with pytest.raises(StoreError) as info:
            attempt()
        assert str(info.value).startswith(want) and "Fix: restore manifest.json" in str(info.value)
    assert victim.read_bytes() == b"precious\n"
    assert store.shard_path("samples", MODEL, "k1").exists()


def test_symlinks_out_of_the_run_are_refused(tmp_path):
    store = new_run(tmp_path)
    path = store.shard_path("samples", MODEL, "k1")
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "k1.parquet"
    victim.write_bytes(path.read_bytes())  # same bytes: the hash alone would pass it
    # planted after the manifest was read: refused on read and on discard
    path.unlink()
    path.symlink_to(victim)
    rel = store.shards("samples")[1]["file"]
    with pytest.raises(StoreError, match=re.escape(f"names file {rel!r}, which leads out of the run")):
        store.read("samples")
    with pytest.raises(StoreError, match="leads out of the run"):
        store.verify()
    with pytest.raises(StoreError, match="leads out of the run"):
        store.discard("samples", MODEL, "k1")
    assert victim.read_bytes() == path.read_bytes() and store.done("samples", MODEL) == {"k0", "k1", "k2"}
    store.close()
    with pytest.raises(StoreError, match=r"shard record 1 .* leads out of the run"):  # and on open
        RunStore(tmp_path / "run")
    # a folder above the shard that is a symlink out of the run
    path.unlink()
    folder = path.parent
    os.rename(folder, outside / "model")
    folder.symlink_to(outside / "model")
    with pytest.raises(StoreError, match=r"shard record 0 .* leads out of the run"):
        RunStore(tmp_path / "run")


def test_a_symlink_inside_the_run_is_fine(tmp_path):
    store = new_run(tmp_path)
    path = store.shard_path("samples", MODEL, "k1")
    copy = path.with_name("k1-copy.parquet")
    os.rename(path, copy)
    path.symlink_to(copy.name)
    assert RunStore(tmp_path / "run").read("samples").num_rows == 60
    store.discard("samples", MODEL, "k1")  # deletes the link, not what it points to
    assert not path.is_symlink() and copy.exists()


def test_a_run_reached_through_a_symlink_reads(tmp_path):
    new_run(tmp_path).close()
    (tmp_path / "link").symlink_to(tmp_path / "run")
    assert RunStore(tmp_path / "link").read("samples").num_rows == 60
    assert counts_from_samples(tmp_path / "link").column("n").to_pylist() == [20, 20, 20]
