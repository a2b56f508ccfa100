"""supportscope.io: reading counts and per-sample files (happy paths, lines, streaming).

Bad inputs are in test_io_errors.py.
"""

from __future__ import annotations

import csv
import json
import pickle
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import supportscope.io.source_csv as source_csv
import supportscope.io.source_parquet as source_parquet
import supportscope.io.textscan as textscan
from supportscope.io import COUNTS_SCHEMA, load_counts
from supportscope.errors import InputError

from io_files import FORMATS, write  # noqa: E402


def counts_rows() -> list[dict]:
    return [
        {"problem_id": "p0", "model": "base", "n": 8, "correct": 3},
        {"problem_id": "p1", "model": "base", "n": 8, "correct": 0},
        {"problem_id": "p0", "model": "tuned", "n": 16, "correct": 16},
        {"problem_id": "p1", "model": "tuned", "n": 4, "correct": 1},
    ]


def sample_rows(seed: int = 0, problems: int = 5, samples: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = [
        {
            "problem_id": f"q{p}",
            "model": m,
            "sample_idx": s,
            "correct": int(rng.random() < 0.4),
            "completion": f"answer, with \"quotes\"\nand a line break {s}",
        }
        for p in range(problems)
        for m in ("base", "tuned")
        for s in range(samples)
    ]
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def brute_force_counts(rows: list[dict], outcome=lambda r: r["correct"] == 1) -> dict:
    n, c = Counter(), Counter()
    for r in rows:
        key = (str(r["problem_id"]), r["model"])
        n[key] += 1
        c[key] += bool(outcome(r))
    return {k: (n[k], c[k]) for k in n}


def as_dict(table: pa.Table) -> dict:
    d = table.to_pydict()
    return {(p, m): (n, c) for p, m, n, c in zip(d["problem_id"], d["model"], d["n"], d["correct"])}


# ---------------------------------------------------------------- counts and samples


@pytest.mark.parametrize("fmt", FORMATS)
def test_counts_round_trip(tmp_path, fmt):
    rows = counts_rows()
    path = write(tmp_path / f"counts.{fmt}", rows)
    t = load_counts(path)
    assert t.schema == COUNTS_SCHEMA
    assert t.select(["problem_id", "model", "n", "correct"]).to_pylist() == rows
    assert set(t.column("source").to_pylist()) == {str(path)}
    expected_lines = {"csv": [2, 3, 4, 5], "jsonl": [1, 2, 3, 4], "parquet": [0, 1, 2, 3]}[fmt]
    assert t.column("line").to_pylist() == expected_lines


def test_counts_same_table_from_all_formats(tmp_path):
    tables = [load_counts(write(tmp_path / f"c.{fmt}", counts_rows())) for fmt in FORMATS]
    cols = ["problem_id", "model", "n", "correct"]
    assert tables[0].select(cols).equals(tables[1].select(cols))
    assert tables[0].select(cols).equals(tables[2].select(cols))


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_aggregate_to_brute_force_counts(tmp_path, fmt):
    rows = sample_rows()
    t = load_counts(write(tmp_path / f"samples.{fmt}", rows))
    assert as_dict(t) == brute_force_counts(rows)
    assert t.num_rows == 10


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_line_is_first_sample_of_group(tmp_path, fmt):
    rows = sample_rows(seed=3)
    t = load_counts(write(tmp_path / f"samples.{fmt}", rows))
    first = {}
    for i, r in enumerate(rows):
        first.setdefault((r["problem_id"], r["model"]), i)
    # groups come out in order of their first sample
    assert [first[(p, m)] for p, m in zip(t.column("problem_id").to_pylist(), t.column("model").to_pylist())] == sorted(
        first.values()
    )
    rows_of_first = np.array(sorted(first.values()))
    # CSV: every completion holds one line break, so data row i starts on line 2 + 2 i
    expected = {"csv": 2 + 2 * rows_of_first, "jsonl": 1 + rows_of_first, "parquet": rows_of_first}[fmt]
    assert t.column("line").to_pylist() == expected.tolist()


@pytest.mark.parametrize("fmt", FORMATS)
def test_reward_threshold(tmp_path, fmt):
    rewards = [0.0, 0.5, 0.7, 1.0, 0.95, 0.2]
    rows = [{"problem_id": 1, "model": "m", "sample_idx": i, "reward": r} for i, r in enumerate(rewards)]
    path = write(tmp_path / f"r.{fmt}", rows)
    assert as_dict(load_counts(path)) == {("1", "m"): (6, 1)}
    assert as_dict(load_counts(path, success_threshold=0.7)) == {("1", "m"): (6, 3)}
    assert as_dict(load_counts(path, success_threshold=0.5)) == {("1", "m"): (6, 4)}


def test_correct_wins_over_reward(tmp_path):
    rows = [{"problem_id": "a", "model": "m", "sample_idx": i, "correct": c, "reward": 0.0} for i, c in enumerate([1, 1, 0])]
    assert as_dict(load_counts(write(tmp_path / "s.csv", rows))) == {("a", "m"): (3, 2)}


def test_success_threshold_must_be_in_unit_interval(tmp_path):
    path = write(tmp_path / "c.csv", counts_rows())
    with pytest.raises(ValueError):
        load_counts(path, success_threshold=0.0)
    with pytest.raises(ValueError):
        load_counts([])


def test_correct_spellings(tmp_path):
    text = "problem_id,model,sample_idx,correct\n" + "".join(
        f"p,m,{i},{v}\n" for i, v in enumerate(["1", "0", "true", "false", "True", "FALSE", "1.0", " 1 "])
    )
    (tmp_path / "s.csv").write_text(text)
    assert as_dict(load_counts(tmp_path / "s.csv")) == {("p", "m"): (8, 5)}
    lines = [{"problem_id": "p", "model": "m", "sample_idx": i, "correct": v} for i, v in enumerate([True, 0, 1, False, 1.0])]
    assert as_dict(load_counts(write(tmp_path / "s.jsonl", lines))) == {("p", "m"): (5, 3)}
    pq.write_table(pa.table({"problem_id": ["p"] * 3, "model": ["m"] * 3, "sample_idx": [0, 1, 2], "correct": [True, False, True]}), tmp_path / "s.parquet")
    assert as_dict(load_counts(tmp_path / "s.parquet")) == {("p", "m"): (3, 2)}


def test_counts_whole_floats_are_fine(tmp_path):
    (tmp_path / "c.csv").write_text("problem_id,model,n,correct\np,m,3.0,2.0\nq,m,1e1,0\n")
    assert as_dict(load_counts(tmp_path / "c.csv")) == {("p", "m"): (3, 2), ("q", "m"): (10, 0)}
    rows = [{"problem_id": "p", "model": "m", "n": 3.0, "correct": 2.0}]
    assert as_dict(load_counts(write(tmp_path / "c.parquet", rows))) == {("p", "m"): (3, 2)}
    assert as_dict(load_counts(write(tmp_path / "c.jsonl", rows))) == {("p", "m"): (3, 2)}


# ---------------------------------------------------------------- problem_id and model as text


def test_csv_ids_stay_as_written(tmp_path):
    (tmp_path / "c.csv").write_text("problem_id,model,n,correct\n007,1,4,1\n7,1,4,2\n1e3,1,4,3\n")
    t = load_counts(tmp_path / "c.csv")
    assert t.column("problem_id").to_pylist() == ["007", "7", "1e3"]
    assert t.column("model").to_pylist() == ["1", "1", "1"]


def test_jsonl_mixed_int_and_string_ids(tmp_path):
    lines = [
        '{"problem_id": 7, "model": "m", "n": 4, "correct": 1}',
        '{"problem_id": "a7", "model": "m", "n": 4, "correct": 2}',
        '{"problem_id":12,"model":3,"n":4,"correct":3}',
        '{"problem_id": -5 , "model": "m", "n": 4.0, "correct": 0}',
        '{"problem_id": 8.0, "model": "m", "n": 4, "correct": 0}',
        '{"problem_id": 8.5, "model": "m", "n": 4, "correct": 0}',
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    t = load_counts(tmp_path / "c.jsonl")
    assert t.column("problem_id").to_pylist() == ["7", "a7", "12", "-5", "8", "8.5"]
    assert t.column("model").to_pylist() == ["m", "m", "3", "m", "m", "m"]
    # a file of whole-number floats (pandas with a missing value writes 7.0) reads as "7"
    (tmp_path / "f.jsonl").write_text('{"problem_id": 7.0, "model": "m", "n": 4, "correct": 1}\n')
    assert load_counts(tmp_path / "f.jsonl").column("problem_id").to_pylist() == ["7"]


def test_jsonl_types_change_between_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(textscan, "CHUNK_BYTES", 64)
    lines = [{"problem_id": i, "model": "m", "sample_idx": 0, "correct": True} for i in range(20)]
    lines += [{"problem_id": f"s{i}", "model": "m", "sample_idx": 0, "correct": 1} for i in range(20)]
    lines += [{"problem_id": 100 + i if i % 2 else f"x{i}", "model": "m", "sample_idx": 0, "correct": i % 2 == 0 or 0} for i in range(20)]
    t = load_counts(write(tmp_path / "s.jsonl", lines))
    assert as_dict(t) == brute_force_counts(lines, outcome=lambda r: r["correct"] in (1, True))
    assert t.column("line").to_pylist() == list(range(1, 61))


def test_parquet_numeric_ids(tmp_path):
    pq.write_table(pa.table({"problem_id": [7, 8], "model": ["m", "m"], "n": [2, 2], "correct": [1, 1]}), tmp_path / "i.parquet")
    pq.write_table(pa.table({"problem_id": [7.0, 8.5], "model": ["m", "m"], "n": [2, 2], "correct": [1, 1]}), tmp_path / "f.pq")
    assert load_counts(tmp_path / "i.parquet").column("problem_id").to_pylist() == ["7", "8"]
    assert load_counts(tmp_path / "f.pq").column("problem_id").to_pylist() == ["7", "8.5"]


def test_parquet_dictionary_columns(tmp_path):
    t = pa.table({"problem_id": pa.array(["a", "b"]).dictionary_encode(), "model": pa.array(["m", "m"]).dictionary_encode(), "n": [2, 2], "correct": [0, 2]})
    pq.write_table(t, tmp_path / "d.parquet")
    assert as_dict(load_counts(tmp_path / "d.parquet")) == {("a", "m"): (2, 0), ("b", "m"): (2, 2)}


# ---------------------------------------------------------------- several files, default model


def test_mixed_counts_and_samples_files(tmp_path):
    counts = write(tmp_path / "base_counts.csv", [{"problem_id": "q0", "model": "base_c", "n": 8, "correct": 3}])
    rows = sample_rows(problems=3, samples=4)
    samples = write(tmp_path / "samples.jsonl", rows)
    more = write(tmp_path / "more.parquet", [{"problem_id": "q9", "model": "x", "n": 5, "correct": 5}])
    t = load_counts([counts, samples, more])
    expected = {("q0", "base_c"): (8, 3), **brute_force_counts(rows), ("q9", "x"): (5, 5)}
    assert as_dict(t) == expected
    assert t.column("source").to_pylist() == [str(counts)] + [str(samples)] * 6 + [str(more)]
    assert t.column("line").to_pylist()[0] == 2 and t.column("line").to_pylist()[-1] == 0


def test_default_model(tmp_path):
    (tmp_path / "a.csv").write_text("problem_id,n,correct\np,4,1\nq,4,2\n")
    (tmp_path / "b.jsonl").write_text('{"problem_id": "p", "sample_idx": 0, "correct": 1}\n{"problem_id": "p", "sample_idx": 1, "correct": 0}\n')
    (tmp_path / "c.csv").write_text("problem_id,model,n,correct\np,own,4,4\n")
    t = load_counts(tmp_path / "a.csv", default_model="base")
    assert as_dict(t) == {("p", "base"): (4, 1), ("q", "base"): (4, 2)}
    t = load_counts([tmp_path / "b.jsonl", tmp_path / "c.csv"], default_model="tuned")
    assert as_dict(t) == {("p", "tuned"): (2, 1), ("p", "own"): (4, 4)}


def test_paths_may_be_str_or_path(tmp_path):
    path = write(tmp_path / "c.csv", counts_rows())
    assert load_counts(str(path)).equals(load_counts([path]))


# ---------------------------------------------------------------- sample shards (one file per seed)


def first_line(fmt: str, row: int) -> int:
    """The ``line`` of data row ``row`` of a file written by :func:`write` from :func:`sample_rows`
    rows (each CSV completion holds one line break, so CSV row i starts on line 2 + 2 i)."""
    return {"csv": 2 + 2 * row, "jsonl": 1 + row, "parquet": row}[fmt]


def shard_rows(rows: list[dict], shards: int) -> list[list[dict]]:
    """Split sample rows over ``shards`` files by sample_idx (like one file per seed), with one
    group only in the first shard, one only in the last and one missing from the middle ones."""
    out: list[list[dict]] = [[] for _ in range(shards)]
    for r in rows:
        key = (r["problem_id"], r["model"])
        if key == ("q0", "base"):
            k = 0
        elif key == ("q1", "tuned"):
            k = shards - 1
        elif key == ("q2", "base"):
            k = 0 if r["sample_idx"] % 2 else shards - 1
        else:
            k = r["sample_idx"] % shards
        out[k].append(r)
    return out


@pytest.mark.parametrize("tiny", [False, True], ids=["batches", "tiny-batches"])
@pytest.mark.parametrize("fmts", [("csv", "jsonl"), ("parquet", "parquet"), ("jsonl", "csv"), ("csv", "parquet", "jsonl")], ids="-".join)
def test_sample_shards_merge_like_one_file(tmp_path, monkeypatch, fmts, tiny):
    rows = sample_rows(seed=11, problems=6, samples=8)
    shards = shard_rows(rows, len(fmts))
    paths = [write(tmp_path / f"base_seed{k + 1}.{fmt}", part) for k, (fmt, part) in enumerate(zip(fmts, shards))]
    whole = write(tmp_path / "all.jsonl", [r for part in shards for r in part])
    if tiny:
        monkeypatch.setattr(textscan, "CHUNK_BYTES", 41)
        monkeypatch.setattr(source_csv, "_BLOCK_BYTES", 200)
        monkeypatch.setattr(source_parquet, "_BATCH_ROWS", 5)
    t = load_counts(paths)
    # the same counts, in the same order, as one concatenated file, and as a brute-force count
    cols = ["problem_id", "model", "n", "correct"]
    assert t.select(cols).equals(load_counts(whole).select(cols))
    assert as_dict(t) == brute_force_counts(rows)
    assert t.num_rows == 12 and sum(t.column("n").to_pylist()) == len(rows)
    # each group is where its first sample is: first shard that has it, first row there
    first = {}
    for k, part in enumerate(shards):
        for i, r in enumerate(part):
            first.setdefault((r["problem_id"], r["model"]), (k, i))
    expected = sorted(first.values())
    assert [first[k] for k in zip(t.column("problem_id").to_pylist(), t.column("model").to_pylist())] == expected
    assert t.column("source").to_pylist() == [str(paths[k]) for k, _ in expected]
    assert t.column("line").to_pylist() == [first_line(fmts[k], i) for k, i in expected]


def test_sample_shards_around_a_counts_file(tmp_path):
    rows = sample_rows(seed=2, problems=3, samples=4)
    a, b = shard_rows(rows, 2)
    pa_, pb = write(tmp_path / "s1.csv", a), write(tmp_path / "s2.jsonl", b)
    counts = write(tmp_path / "c.parquet", [{"problem_id": "other", "model": "base", "n": 3, "correct": 2}])
    t = load_counts([pa_, counts, pb])
    assert as_dict(t) == {**brute_force_counts(rows), ("other", "base"): (3, 2)}
    sources = t.column("source").to_pylist()
    # groups first seen in s1, then the counts row, then the group first seen in s2 (q1, tuned)
    in_a = len({(r["problem_id"], r["model"]) for r in a})
    assert sources == [str(pa_)] * in_a + [str(counts)] + [str(pb)] * (6 - in_a)
    assert t.slice(in_a + 1).column("model").to_pylist() == ["tuned"]


# ---------------------------------------------------------------- lines in text files


def test_csv_lines_with_blank_lines_crlf_bom_and_quoted_breaks(tmp_path):
    text = (
        "\ufeffproblem_id,model,n,correct,note\r\n"
        "a,m,4,1,plain\r\n"
        "\r\n"
        'b,m,4,2,"two\r\nlines, and ""quotes"""\r\n'
        "c,m,4,3,x\r\n"
    )
    (tmp_path / "c.csv").write_bytes(text.encode("utf-8"))
    t = load_counts(tmp_path / "c.csv")
    assert t.column("problem_id").to_pylist() == ["a", "b", "c"]
    assert t.column("line").to_pylist() == [2, 4, 6]


def test_csv_quote_inside_unquoted_field_falls_back_to_python_csv(tmp_path):
    text = 'problem_id,model,n,correct,note\n1,m,3,1,a 5" screen\n2,m,3,1,ok\n\n3,m,3,1,"a\nb"\n4,m,3,1,x\n'
    (tmp_path / "g.csv").write_text(text)
    assert load_counts(tmp_path / "g.csv").column("line").to_pylist() == [2, 3, 5, 7]


def test_jsonl_lines_with_blank_lines(tmp_path):
    text = '\n{"problem_id": "a", "model": "m", "n": 2, "correct": 1}\n  \n\t\r\n{"problem_id": "b", "model": "m", "n": 2, "correct": 1}'
    (tmp_path / "c.ndjson").write_text(text)
    t = load_counts(tmp_path / "c.ndjson")
    assert t.column("line").to_pylist() == [2, 5]


@pytest.mark.parametrize("fmt", FORMATS)
def test_tiny_chunks_give_the_same_result(tmp_path, monkeypatch, fmt):
    rows = sample_rows(seed=5, problems=6, samples=9)
    path = write(tmp_path / f"s.{fmt}", rows)
    expected = load_counts(path)
    monkeypatch.setattr(textscan, "CHUNK_BYTES", 37)
    monkeypatch.setattr(source_csv, "_BLOCK_BYTES", 200)
    monkeypatch.setattr(source_parquet, "_BATCH_ROWS", 7)
    assert load_counts(path).equals(expected)


# ---------------------------------------------------------------- the error type


def test_input_error_is_one_line_and_pickles():
    e = InputError("a.csv", "bad\nthing.", "do x", line=3)
    assert str(e) == "a.csv:3: bad thing. Fix: do x"
    assert str(InputError("a.pq", "bad", "fix", row=4)) == "a.pq row 4: bad. Fix: fix"
    assert str(InputError("a.pq", "bad", "fix")) == "a.pq: bad. Fix: fix"
    again = pickle.loads(pickle.dumps(e))
    assert str(again) == str(e) and again.line == 3


# ---------------------------------------------------------------- a million rows


def write_million(path: Path, problems: int = 500, models: int = 2, samples: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A shuffled 1,000,000-row samples CSV with a text column; returns pid, model, correct."""
    size = problems * models * samples
    rng = np.random.default_rng(1)
    pid = np.repeat(np.arange(problems), models * samples)
    model = np.tile(np.repeat(np.arange(models), samples), problems)
    idx = np.tile(np.arange(samples), problems * models)
    p_success = rng.random((problems, models))
    correct = (rng.random(size) < p_success[pid, model]).astype(np.int8)
    order = rng.permutation(size)
    table = pa.table(
        {
            "problem_id": pa.array(pid[order]).cast(pa.string()),
            "model": pa.array(np.array(["base", "tuned"])[model[order]]),
            "sample_idx": idx[order],
            "correct": correct[order],
            "seed": rng.integers(0, 2**31, size),
        }
    )
    pcsv.write_csv(table, path)
    return pid[order], model[order], correct[order]


def test_million_row_samples_csv(tmp_path):
    path = tmp_path / "million.csv"
    pid, model, correct = write_million(path)
    start = time.perf_counter()
    t = load_counts(path)
    seconds = time.perf_counter() - start
    assert t.num_rows == 1000
    assert set(t.column("n").to_pylist()) == {1000}
    g = pid * 2 + model
    expected_correct = np.bincount(g, weights=correct, minlength=1000).astype(np.int64)
    got_g = np.array(t.column("problem_id").to_pylist(), dtype=np.int64) * 2 + (np.array(t.column("model").to_pylist()) == "tuned")
    assert np.array_equal(np.array(t.column("correct").to_pylist()), expected_correct[got_g])
    # line of the first sample of each group: data row r is on line r + 2
    _, first_row = np.unique(g, return_index=True)
    assert np.array_equal(np.array(t.column("line").to_pylist()), first_row[got_g] + 2)
    assert seconds < 30, f"1M-row CSV took {seconds:.1f} s"


# ---------------------------------------------------------------- property: any text, any chunking

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_text = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t{}:\\é')), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    groups=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["b", "t"])), min_size=1, max_size=30),
    notes=st.lists(_text, min_size=30, max_size=30),
    chunk=st.integers(1, 64),
    blank_after=st.sets(st.integers(0, 29), max_size=3),
)
def test_property_lines_and_counts_csv_and_jsonl(tmp_path_factory, groups, notes, chunk, blank_after):
    directory = tmp_path_factory.mktemp("prop")
    rows = [
        {"problem_id": str(p), "model": m, "sample_idx": i, "correct": (i + p) % 2, "note": notes[i]}
        for i, (p, m) in enumerate(groups)
    ]
    # CSV, written by hand so the physical line of every row is known
    csv_lines, line = [], 2
    with open(directory / "s.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(rows[0]))
        for i, r in enumerate(rows):
            csv_lines.append(line)
            text = f'{r["problem_id"]},{r["model"]},{r["sample_idx"]},{r["correct"]},"{r["note"].replace(chr(34), chr(34) * 2)}"\n'
            fh.write(text)
            line += text.count("\n")
            if i in blank_after:
                fh.write("\n")
                line += 1
    json_lines, line = [], 1
    with open(directory / "s.jsonl", "w", encoding="utf-8") as fh:
        for i, r in enumerate(rows):
            json_lines.append(line)
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            line += 1
            if i in blank_after:
                fh.write("  \n")
                line += 1
    expected = brute_force_counts(rows)
    first = {}
    for i, r in enumerate(rows):
        first.setdefault((r["problem_id"], r["model"]), i)
    original = textscan.CHUNK_BYTES
    textscan.CHUNK_BYTES = chunk
    try:
        for name, lines in (("s.csv", csv_lines), ("s.jsonl", json_lines)):
            t = load_counts(directory / name)
            assert as_dict(t) == expected
            keys = zip(t.column("problem_id").to_pylist(), t.column("model").to_pylist())
            assert t.column("line").to_pylist() == [lines[first[k]] for k in keys]
    finally:
        textscan.CHUNK_BYTES = original
