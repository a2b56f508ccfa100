"""supportscope.io: every bad input raises InputError with the file, the place and a fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import supportscope.io.formats as formats
import supportscope.io.source_csv as source_csv
import supportscope.io.source_parquet as source_parquet
import supportscope.io.textscan as textscan
from supportscope.io import load_counts
from supportscope.errors import InputError

from io_files import FORMATS, write  # noqa: E402


def place(path: Path, row: int) -> str:
    """The expected place of data row ``row`` when no record spans lines."""
    if path.suffix == ".csv":
        return f"{path}:{row + 2}:"
    if path.suffix == ".jsonl":
        return f"{path}:{row + 1}:"
    return f"{path} row {row}:"


def error_of(*args, **kwargs) -> str:
    """The one-line message of the InputError that load_counts raises."""
    with pytest.raises(InputError) as info:
        load_counts(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text and "Fix: " in text
    return text


def check(text: str, where: str, *words: str) -> None:
    assert text.startswith(where), text
    for w in words:
        assert w in text, text


# ---------------------------------------------------------------- paths


def test_missing_file(tmp_path):
    check(error_of(tmp_path / "nope.csv"), f"{tmp_path / 'nope.csv'}:", "not found")


def test_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    check(error_of(tmp_path / "d.csv"), f"{tmp_path / 'd.csv'}:", "directory")


def test_unreadable(tmp_path, monkeypatch):
    path = write(tmp_path / "c.csv", [{"problem_id": "a", "model": "m", "n": 1, "correct": 1}])

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(formats, "open", denied, raising=False)  # chmod 0 does not stop root
    check(error_of(path), f"{path}:", "cannot be read (Permission denied)", "permissions")


def test_unknown_extension(tmp_path):
    (tmp_path / "c.tsv").write_text("x")
    check(error_of(tmp_path / "c.tsv"), f"{tmp_path / 'c.tsv'}:", "'.tsv'", ".csv, .jsonl, .ndjson, .parquet, .pq")


@pytest.mark.parametrize("name", ["e.csv", "e.jsonl", "e.parquet"])
def test_empty_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    check(error_of(tmp_path / name), f"{tmp_path / name}:", "empty (0 bytes)")


def test_header_without_rows(tmp_path):
    (tmp_path / "h.csv").write_text("problem_id,model,n,correct\n\n")
    check(error_of(tmp_path / "h.csv"), f"{tmp_path / 'h.csv'}:1:", "no data rows")
    pq.write_table(pa.table({"problem_id": pa.array([], pa.string()), "model": pa.array([], pa.string()), "n": pa.array([], pa.int64()), "correct": pa.array([], pa.int64())}), tmp_path / "h.parquet")
    check(error_of(tmp_path / "h.parquet"), f"{tmp_path / 'h.parquet'}:", "no data rows")
    (tmp_path / "b.jsonl").write_text("\n  \n\n")
    check(error_of(tmp_path / "b.jsonl"), f"{tmp_path / 'b.jsonl'}:", "only blank lines")


def test_not_parquet(tmp_path):
    (tmp_path / "x.parquet").write_text("problem_id,model,n,correct\n")
    check(error_of(tmp_path / "x.parquet"), f"{tmp_path / 'x.parquet'}:", "not a readable Parquet file")


def test_same_file_twice(tmp_path):
    path = write(tmp_path / "c.csv", [{"problem_id": "a", "model": "m", "n": 1, "correct": 1}])
    check(error_of([path, tmp_path / "." / "c.csv"]), f"{tmp_path / '.' / 'c.csv'}:", "already given")


# ---------------------------------------------------------------- columns


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_column_names_it_and_lists_found(tmp_path, fmt):
    path = write(tmp_path / f"c.{fmt}", [{"problem_id": "a", "model": "m", "n": 3}])
    text = error_of(path)
    where = {"csv": f"{path}:1:", "jsonl": f"{path}:1:", "parquet": f"{path}:"}[fmt]
    check(text, where, "missing column 'correct'", "found: 'problem_id', 'model', 'n'", "counts files need", "per-sample files need")


def test_missing_kind_column(tmp_path):
    path = write(tmp_path / "c.csv", [{"problem_id": "a", "model": "m", "correct": 1}])
    check(error_of(path), f"{path}:1:", "missing column 'n' (counts) or 'sample_idx'")


def test_missing_outcome_for_samples(tmp_path):
    path = write(tmp_path / "s.jsonl", [{"problem_id": "a", "model": "m", "sample_idx": 0, "score": 1}])
    check(error_of(path), f"{path}:1:", "missing column 'correct' or 'reward'", "'score'")


def test_missing_model_needs_default(tmp_path):
    path = write(tmp_path / "c.csv", [{"problem_id": "a", "n": 3, "correct": 1}])
    check(error_of(path), f"{path}:1:", "missing column 'model'", "default model")
    assert load_counts(path, default_model="base").column("model").to_pylist() == ["base"]


def test_near_miss_column_name_is_suggested(tmp_path):
    (tmp_path / "c.csv").write_text("problem_id, model, n, correct\na, m, 3, 1\n")
    check(error_of(tmp_path / "c.csv"), f"{tmp_path / 'c.csv'}:1:", "rename ' model' to 'model'")


def test_duplicate_column(tmp_path):
    (tmp_path / "c.csv").write_text("problem_id,model,n,n,correct\na,m,3,3,1\n")
    check(error_of(tmp_path / "c.csv"), f"{tmp_path / 'c.csv'}:1:", "'n' appears 2 times")


# ---------------------------------------------------------------- encoding and syntax


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_non_utf8_byte_on_known_line(tmp_path, suffix):
    path = tmp_path / f"latin.{suffix}"
    if suffix == "csv":
        data = b"problem_id,model,n,correct\na,m,3,1\nb,m,3,1\ncaf\xe9,m,3,1\n"
        line = 4
    else:
        data = b'{"problem_id": "a", "model": "m", "n": 3, "correct": 1}\n\n{"problem_id": "caf\xe9", "model": "m", "n": 3, "correct": 1}\n'
        line = 3
    path.write_bytes(data)
    check(error_of(path), f"{path}:{line}:", "not UTF-8", "0xe9", "UTF-8")


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_non_utf8_far_into_file_across_chunks(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(textscan, "CHUNK_BYTES", 1000)
    path = tmp_path / f"big.{suffix}"
    if suffix == "csv":
        head, row = b"problem_id,model,n,correct\n", b"p%d,m,3,1\n"
        first = 2
    else:
        head, row = b"", b'{"problem_id": "p%d", "model": "m", "n": 3, "correct": 1}\n'
        first = 1
    body = b"".join(row % i for i in range(5000))
    bad = "\u00e9".encode()[:1]  # a lone lead byte: a truncated two-byte character
    path.write_bytes(head + body + b"x" + bad + b",m,3,1\n")
    check(error_of(path), f"{path}:{first + 5000}:", "not UTF-8", "0xc3")


def test_csv_row_with_wrong_number_of_fields(tmp_path):
    (tmp_path / "c.csv").write_text('problem_id,model,n,correct,note\na,m,3,1,"multi\nline"\n\nb,m,3\n')
    check(error_of(tmp_path / "c.csv"), f"{tmp_path / 'c.csv'}:5:", "3 fields but the header has 5")


def test_csv_bad_row_far_into_file(tmp_path):
    lines = ["problem_id,model,sample_idx,correct,completion"] + [f'{i},m,0,1,"two\nlines"' for i in range(150_000)]
    lines[120_001] = "zz,m,3"  # data row 120000, after 120000 two-line records
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    check(error_of(tmp_path / "c.csv"), f"{tmp_path / 'c.csv'}:{2 + 2 * 120_000}:", "3 fields but the header has 5")


def test_csv_unterminated_quote(tmp_path):
    (tmp_path / "c.csv").write_text('problem_id,model,n,correct\na,m,3,1\nb,m,3,"1\nc,m,3,1\n')
    check(error_of(tmp_path / "c.csv"), f"{tmp_path / 'c.csv'}:3:", "correct is not a number")


def test_invalid_json_line(tmp_path):
    text = '{"problem_id": "a", "model": "m", "n": 3, "correct": 1}\n\n{"problem_id": "b", "model": "m", "n": 3, "correct": }\n'
    (tmp_path / "c.jsonl").write_text(text)
    check(error_of(tmp_path / "c.jsonl"), f"{tmp_path / 'c.jsonl'}:3:", "invalid JSON")


def test_invalid_json_far_into_file(tmp_path, monkeypatch):
    monkeypatch.setattr(textscan, "CHUNK_BYTES", 4096)
    rows = ['{"problem_id": "p%d", "model": "m", "n": 3, "correct": 1}' % i for i in range(3000)]
    rows[2500] = '{"problem_id": "p", "model": "m", "n": 3, "correct": 1} {"x": 1}'
    (tmp_path / "c.jsonl").write_text("\n".join(rows) + "\n")
    check(error_of(tmp_path / "c.jsonl"), f"{tmp_path / 'c.jsonl'}:2501:", "invalid JSON", "Extra data")


def test_json_line_not_an_object(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"problem_id": "a", "model": "m", "n": 3, "correct": 1}\n[1, 2]\n')
    check(error_of(tmp_path / "c.jsonl"), f"{tmp_path / 'c.jsonl'}:2:", "not an object")


def test_json_number_as_string(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"problem_id": "a", "model": "m", "n": 3, "correct": 1}\n{"problem_id": "b", "model": "m", "n": "3", "correct": 1}\n')
    check(error_of(tmp_path / "c.jsonl"), f"{tmp_path / 'c.jsonl'}:2:", "n must be a number", '"3"')


# ---------------------------------------------------------------- values, in every format

GOOD_COUNTS = [
    {"problem_id": "p0", "model": "m", "n": 4, "correct": 1},
    {"problem_id": "p1", "model": "m", "n": 4.0, "correct": 4},
]

COUNT_CASES = {
    "n_nan": ({"n": float("nan")}, "n is NaN"),
    "n_empty": ({"n": None}, "n is empty"),
    "correct_empty": ({"correct": None}, "correct is empty"),
    "correct_nan": ({"correct": float("nan")}, "correct is NaN"),
    "problem_id_empty": ({"problem_id": None}, "problem_id is empty"),
    "problem_id_blank": ({"problem_id": " "}, "problem_id is empty"),
    "model_empty": ({"model": None}, "model is empty"),
    "n_negative": ({"n": -2, "correct": 0}, "n is negative (-2)"),
    "correct_negative": ({"correct": -1}, "correct is negative (-1)"),
    "n_fraction": ({"n": 3.5}, "n is not a whole number (3.5)"),
    "correct_fraction": ({"correct": 0.5}, "correct is not a whole number (0.5)"),
    "n_zero": ({"n": 0, "correct": 0}, "n is 0"),
    "correct_above_n": ({"n": 3, "correct": 4}, "correct (4) is larger than n (3)"),
    "n_infinite": ({"n": float("inf")}, "n is infinite"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(COUNT_CASES))
def test_bad_count_values(tmp_path, fmt, case):
    change, words = COUNT_CASES[case]
    rows = [*GOOD_COUNTS, {"problem_id": "p2", "model": "m", "n": 4, "correct": 2, **change}, {"problem_id": "p3", "model": "m", "n": -1, "correct": 9}]
    path = write(tmp_path / f"c.{fmt}", rows)
    check(error_of(path), place(path, 2), words, "Fix: ")


@pytest.mark.parametrize("fmt", FORMATS)
def test_count_not_a_number(tmp_path, fmt):
    rows = [*GOOD_COUNTS, {"problem_id": "p2", "model": "m", "n": "abc", "correct": 1}]
    path = write(tmp_path / f"c.{fmt}", rows)
    check(error_of(path), place(path, 2), "n ", "number", "abc")


def sample(i: int, **change) -> dict:
    return {"problem_id": "q", "model": "m", "sample_idx": i, "correct": i % 2, **change}


SAMPLE_CASES = {
    "sample_idx_empty": ({"sample_idx": None}, "sample_idx is empty"),
    "sample_idx_nan": ({"sample_idx": float("nan")}, "sample_idx is NaN"),
    "sample_idx_negative": ({"sample_idx": -1}, "sample_idx is negative"),
    "sample_idx_fraction": ({"sample_idx": 2.5}, "sample_idx is not a whole number (2.5)"),
    "correct_two": ({"correct": 2}, "correct is 2, not 0/1 or true/false"),
    "correct_empty": ({"correct": None}, "correct is empty"),
    "correct_nan": ({"correct": float("nan")}, "correct is NaN"),
    "problem_id_empty": ({"problem_id": None}, "problem_id is empty"),
    "model_empty": ({"model": None}, "model is empty"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(SAMPLE_CASES))
def test_bad_sample_values(tmp_path, fmt, case):
    change, words = SAMPLE_CASES[case]
    path = write(tmp_path / f"s.{fmt}", [sample(0), sample(1), sample(2, **change), sample(3, correct=7)])
    check(error_of(path), place(path, 2), words, "Fix: ")


@pytest.mark.parametrize("fmt", FORMATS)
def test_correct_word_not_allowed(tmp_path, fmt):
    path = write(tmp_path / f"s.{fmt}", [sample(0), sample(1, correct="yes")])
    check(error_of(path), place(path, 1), "correct", "yes")


REWARD_CASES = {
    "above_one": (1.5, "reward 1.5 is outside [0, 1]"),
    "negative": (-0.25, "reward -0.25 is outside [0, 1]"),
    "nan": (float("nan"), "reward is NaN"),
    "empty": (None, "reward is empty"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(REWARD_CASES))
def test_bad_rewards(tmp_path, fmt, case):
    value, words = REWARD_CASES[case]
    rows = [{"problem_id": "q", "model": "m", "sample_idx": i, "reward": r} for i, r in enumerate([0.5, 1.0, value])]
    path = write(tmp_path / f"r.{fmt}", rows)
    check(error_of(path), place(path, 2), words, "Fix: ")


def test_first_error_in_the_file_wins(tmp_path):
    rows = [*GOOD_COUNTS, {"problem_id": "p2", "model": "m", "n": 4, "correct": 9}, {"problem_id": "", "model": "m", "n": -1, "correct": 1}]
    path = write(tmp_path / "c.csv", rows)
    check(error_of(path), f"{path}:4:", "larger than n")


# ---------------------------------------------------------------- duplicates


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_counts_in_one_file(tmp_path, fmt):
    rows = [*GOOD_COUNTS, {"problem_id": "p0", "model": "m", "n": 2, "correct": 1}]
    path = write(tmp_path / f"c.{fmt}", rows)
    first = place(path, 0).rstrip(":")
    check(error_of(path), place(path, 2), "problem_id 'p0' with model 'm' appears twice", f"at {first} and at {place(path, 2).rstrip(':')}")


def test_duplicate_counts_across_files(tmp_path):
    a = write(tmp_path / "a.csv", GOOD_COUNTS)
    b = write(tmp_path / "b.jsonl", [{"problem_id": "x", "model": "m", "n": 1, "correct": 0}, {"problem_id": "p1", "model": "m", "n": 1, "correct": 0}])
    check(error_of([a, b]), f"{b}:2:", "problem_id 'p1' with model 'm' appears twice", f"at {a}:3 and at {b}:2")


def test_duplicate_between_counts_and_aggregated_samples(tmp_path):
    counts = write(tmp_path / "counts.parquet", GOOD_COUNTS)
    samples = write(tmp_path / "samples.csv", [sample(0, problem_id="z"), sample(0, problem_id="p1"), sample(1, problem_id="p1")])
    check(error_of([counts, samples]), f"{samples}:3:", "problem_id 'p1' with model 'm' appears twice", f"at {counts} row 1", f"from {samples}:3")
    # and the other way round: samples first, then counts
    check(error_of([samples, counts]), f"{counts} row 1:", "appears twice", f"at {samples}:3 and at {counts} row 1")


SHARD_FORMATS = [("csv", "jsonl"), ("parquet", "parquet"), ("jsonl", "parquet"), ("parquet", "csv")]


@pytest.mark.parametrize("fmts", SHARD_FORMATS, ids="-".join)
def test_sample_repeated_across_shards(tmp_path, fmts):
    # samples of one problem and model may be split over files, but each sample_idx only once
    a = write(tmp_path / f"seed1.{fmts[0]}", [sample(0), sample(1), sample(2, problem_id="other"), sample(2)])
    b = write(tmp_path / f"seed2.{fmts[1]}", [sample(5, problem_id="other"), sample(3), sample(1), sample(4)])
    first, again = place(a, 1).rstrip(":"), place(b, 2).rstrip(":")
    check(error_of([a, b]), place(b, 2), "sample_idx 1 of problem_id 'q' with model 'm' appears twice", f"at {first} and at {again}")
    # without the repeat the shards merge
    b = write(tmp_path / f"seed3.{fmts[1]}", [sample(5, problem_id="other"), sample(3), sample(4)])
    t = load_counts([a, b])
    assert t.column("n").to_pylist() == [5, 2] and t.column("correct").to_pylist() == [2, 1]  # q: 0-4, other: 2, 5


def test_sample_repeated_across_shards_with_one_between(tmp_path):
    a = write(tmp_path / "s1.csv", [sample(0), sample(1)])
    b = write(tmp_path / "s2.parquet", [sample(2), sample(3)])
    c = write(tmp_path / "s3.jsonl", [sample(4), sample(5), sample(0)])
    check(error_of([a, b, c]), f"{c}:3:", "sample_idx 0 of problem_id 'q' with model 'm' appears twice", f"at {a}:2 and at {c}:3")


def test_sample_repeated_across_shards_in_a_later_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(source_parquet, "_BATCH_ROWS", 100)
    a = write(tmp_path / "s1.parquet", [sample(i) for i in range(1000)])
    b = write(tmp_path / "s2.parquet", [sample(i) for i in range(1000, 1500)] + [sample(537)])
    check(error_of([a, b]), f"{b} row 500:", "sample_idx 537", f"at {a} row 537 and at {b} row 500")


@pytest.mark.parametrize(
    "order",
    ["shards-counts", "counts-shards", "shard-counts-shard"],
)
def test_duplicate_between_counts_and_sample_shards(tmp_path, order):
    """A counts row may not repeat a group of sample rows, whichever shard holds the group."""
    s1 = write(tmp_path / "s1.csv", [sample(0, problem_id="x"), sample(0), sample(1)])  # q first on line 3
    s2 = write(tmp_path / "s2.jsonl", [sample(2), sample(0, problem_id="y"), sample(3)])  # y first on line 2
    for pid, first in (("q", f"{s1}:3"), ("y", f"{s2}:2")):
        counts = write(tmp_path / f"counts_{pid}.parquet", [{"problem_id": "z", "model": "m", "n": 1, "correct": 0}, {"problem_id": pid, "model": "m", "n": 4, "correct": 1}])
        pair = f"problem_id {pid!r} with model 'm' appears twice"
        if order == "shards-counts":
            check(error_of([s1, s2, counts]), f"{counts} row 1:", pair, f"at {first} and at {counts} row 1")
        elif order == "counts-shards":
            check(error_of([counts, s1, s2]), f"{first}:", pair, f"at {counts} row 1 and in this file from {first}")
        elif pid == "q":  # s1, counts, s2: the group is in s1, before the counts
            check(error_of([s1, counts, s2]), f"{counts} row 1:", pair, f"at {first} and at {counts} row 1")
        else:  # s1, counts, s2: the group first appears in s2, after the counts
            check(error_of([s1, counts, s2]), f"{first}:", pair, f"at {counts} row 1 and in this file from {first}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_sample(tmp_path, fmt):
    path = write(tmp_path / f"s.{fmt}", [sample(0), sample(1), sample(2), sample(1)])
    check(error_of(path), place(path, 3), "sample_idx 1 of problem_id 'q' with model 'm' appears twice", f"at {place(path, 1).rstrip(':')} and")


def test_duplicate_sample_in_a_later_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(source_csv, "_BLOCK_BYTES", 4096)
    size = 20_000
    table = pa.table({"problem_id": pa.array(np.arange(size) % 50).cast(pa.string()), "model": ["m"] * size, "sample_idx": np.arange(size) // 50, "correct": np.arange(size) % 2})
    table = pa.concat_tables([table, table.slice(137, 1)])
    pcsv.write_csv(table, tmp_path / "s.csv")
    check(error_of(tmp_path / "s.csv"), f"{tmp_path / 's.csv'}:{size + 2}:", f"at {tmp_path / 's.csv'}:{137 + 2} and")


def test_duplicate_sample_in_a_later_parquet_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(source_parquet, "_BATCH_ROWS", 100)
    rows = [sample(i) for i in range(1000)] + [sample(5)]
    path = write(tmp_path / "s.parquet", rows)
    check(error_of(path), f"{path} row 1000:", f"at {path} row 5 and")
