"""Arrow schemas of a run directory's shards (problems, samples, scores) and a checked table builder.

>>> table = build_table("problems", [{"problem_id": "p0", "prompt": "1+1=", "answer": "2", "task": "add"}])
>>> table.schema == PROBLEMS_SCHEMA
True

:func:`build_table` turns a list of dict rows into a table of a kind's schema; :func:`conform`
checks an existing table (types, nulls, NaN, list lengths, unique rows) and returns it with the
exact schema. Both raise :class:`SchemaError` (a ``ValueError``) whose one-line message names the
field and the row. Log-probabilities are ``float64`` (lists too), so that sampled-token log-probs
can be compared with teacher-forced scores to 1e-4; ``-inf`` is allowed (a token outside the
decoding support), NaN is not.
"""

from __future__ import annotations

from ..errors import SchemaError
from .row_checks import checked_columns, short as _short, type_name as _type_name

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SAMPLES_SCHEMA", "SCORES_SCHEMA", "PROBLEMS_SCHEMA", "SCHEMAS", "KINDS", "SchemaError", "build_table",
           "conform", "schema_of", "ROW_KEYS", "duplicate_rows", "OPTIONAL_COLUMNS"]

_F64_LIST = pa.list_(pa.float64())
_I32_LIST = pa.list_(pa.int32())


def _req(name: str, typ: pa.DataType) -> pa.Field:
    return pa.field(name, typ, nullable=False)


#: One row per problem of a task: the prompt as given to the models and the reference answer.
PROBLEMS_SCHEMA = pa.schema(
    [_req(name, pa.string()) for name in ("problem_id", "prompt", "answer", "task")]
)

#: One row per sample. ``seed`` is the per-sample seed actually used; ``logp_*`` are sums over the
#: generated tokens of the log-probs under the decoding distribution (after temperature, top-p,
#: ...) and the raw model distribution; ``token_logp_*`` are the per-token values (n_tokens each).
#: ``policy_mask`` (issue 16): per token 1 = the policy's, 0 = an environment's reply (log-probs
#: 0.0 there, so the sums are over policy tokens); null = every token is the policy's.
SAMPLES_SCHEMA = pa.schema(
    [
        _req("problem_id", pa.string()),
        _req("model", pa.string()),
        _req("sample_idx", pa.int32()),
        _req("seed", pa.int64()),
        _req("prompt_ids", _I32_LIST),
        _req("token_ids", _I32_LIST),
        _req("completion", pa.string()),
        _req("n_tokens", pa.int32()),
        _req("finish_reason", pa.string()),
        _req("correct", pa.bool_()),
        _req("reward", pa.float64()),
        _req("logp_decoding", pa.float64()),
        _req("logp_raw", pa.float64()),
        _req("token_logp_decoding", _F64_LIST),
        _req("token_logp_raw", _F64_LIST),
        pa.field("policy_mask", pa.list_(pa.int8()), nullable=True),
    ]
)

#: Columns added after format 1 that a table (and a shard file) may lack: read as all null, and
#: left out of a shard whose rows are all null (``shard_files.parquet_bytes``), so a run without
#: environment turns is byte-identical to one written before the column existed.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"problems": (), "samples": ("policy_mask",), "scores": ()}

#: One row per (sample, scorer): the generator's sample ``sample_idx`` of ``problem_id`` scored
#: (teacher-forced) by ``scorer``. ``n_singular_tokens``: tokens with zero probability under the
#: scorer's decoding distribution. ``kl_full`` (sum over positions of the exact full-vocabulary
#: KL) and ``token_kl`` are null when not computed.
SCORER_PREFIX = "scorer:"  #: the manifest model of NAME's scores shards is SCORER_PREFIX + NAME

SCORES_SCHEMA = pa.schema(
    [
        _req("problem_id", pa.string()),
        _req("generator", pa.string()),
        _req("sample_idx", pa.int32()),
        _req("scorer", pa.string()),
        _req("logp_decoding", pa.float64()),
        _req("logp_raw", pa.float64()),
        _req("n_singular_tokens", pa.int32()),
        _req("token_logp_decoding", _F64_LIST),
        _req("token_logp_raw", _F64_LIST),
        pa.field("kl_full", pa.float64(), nullable=True),
        pa.field("token_kl", _F64_LIST, nullable=True),
    ]
)

#: The shard kinds of a run directory and their schemas.
SCHEMAS: dict[str, pa.Schema] = {"problems": PROBLEMS_SCHEMA, "samples": SAMPLES_SCHEMA, "scores": SCORES_SCHEMA}
KINDS: tuple[str, ...] = tuple(SCHEMAS)

#: Columns that identify a row; each combination occurs once in a run.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "problems": ("problem_id",),
    "samples": ("problem_id", "model", "sample_idx"),
    "scores": ("problem_id", "generator", "sample_idx", "scorer"),
}

_NON_EMPTY = {"problem_id", "model", "generator", "scorer"}
_NON_NEGATIVE = {"sample_idx", "n_tokens", "n_singular_tokens"}


def schema_of(kind: str) -> pa.Schema:
    """The schema of a shard kind (``"problems"``, ``"samples"`` or ``"scores"``)."""
    try:
        return SCHEMAS[kind]
    except (KeyError, TypeError):
        raise SchemaError(f"unknown shard kind {kind!r}; expected one of {', '.join(KINDS)}") from None


# ---------------------------------------------------------------------------------------------
# build_table: list of dicts -> table


def build_table(kind: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Build a table of ``kind``'s schema from dict rows, checking every field.

    Args:
        kind: ``"problems"``, ``"samples"`` or ``"scores"``.
        rows: one mapping per row with exactly the schema's fields (nullable fields may be
            omitted or None). Numbers may be Python or numpy scalars; lists may be lists,
            tuples or 1-d numpy arrays.

    Returns:
        A table with exactly the schema (see :func:`conform` for the checks on values).

    Raises:
        SchemaError: naming the kind, row index and field, e.g.
            ``samples row 3: field 'n_tokens' is missing``.
    """
    schema = schema_of(kind)
    rows = list(rows)
    columns = checked_columns(kind, schema, rows)
    arrays = []
    for field in schema:
        values = columns[field.name]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            arrays.append(None)
            for i, value in enumerate(values):  # find the row (only when something is wrong)
                try:
                    pa.array([value], type=field.type)
                except (pa.ArrowException, TypeError, ValueError, OverflowError) as e:
                    raise SchemaError(
                        f"{kind} row {i}: field {field.name!r} must be {_type_name(field.type)}, "
                        f"got {_short(value)} ({' '.join(str(e).split())[:120]})"
                    ) from None
            raise  # pragma: no cover - the whole column failed but no single value did
    return conform(kind, pa.Table.from_arrays(arrays, schema=schema))


# ---------------------------------------------------------------------------------------------
# conform: table -> table with the exact schema, values checked


def _family(typ: pa.DataType) -> str:
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "string"
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_integer(typ):
        return "int"
    if pa.types.is_floating(typ):
        return "float"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return "list"
    if pa.types.is_null(typ):
        return "null"
    return str(typ)


def _castable(src: pa.DataType, dst: pa.DataType) -> bool:
    """Only value-preserving widenings/narrowings within a family (and int -> float)."""
    a, b = _family(src), _family(dst)
    if a == "null":
        return True
    if a == "list" and b == "list":
        return _castable(src.value_type, dst.value_type)
    return a == b or (a == "int" and b == "float")


def _first_true(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.index(mask, True).as_py())


def conform(kind: str, table: pa.Table) -> pa.Table:
    """Check ``table`` against ``kind``'s schema and return it with exactly that schema.

    Columns may come in any order and with compatible types (e.g. int64 where int32 is
    expected, as long as every value fits); the result has the schema's order and types, one
    chunk per column and no schema metadata. Checked: no missing (except :data:`OPTIONAL_COLUMNS`,
    then all null) or extra column; no null in a non-nullable field (nor in any list); no NaN; no
    empty ``problem_id``/``model``/...; ``sample_idx``, ``n_tokens``, ``n_singular_tokens`` >= 0;
    per-token lists as long as the sample (``n_tokens``; for scores, as each other); ``policy_mask``
    values 0 or 1; each row's key (:data:`ROW_KEYS`) once.

    Raises:
        SchemaError: naming the field and, where it applies, the first bad row.
    """
    schema = schema_of(kind)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise SchemaError(f"{kind}: expected a pyarrow.Table, got {type(table).__name__}")
    have = table.column_names
    if len(set(have)) != len(have):
        dup = next(n for n in have if have.count(n) > 1)
        raise SchemaError(f"{kind}: column {dup!r} occurs twice")
    for field in schema:
        if field.name not in have and field.name not in OPTIONAL_COLUMNS[kind]:
            raise SchemaError(f"{kind}: column {field.name!r} is missing; it must be {_type_name(field.type)}")
    extra = [n for n in have if n not in schema.names]
    if extra:
        raise SchemaError(f"{kind}: unknown column {extra[0]!r}; the columns of {kind} are {', '.join(schema.names)}")

    columns = []
    for field in schema:
        col = table.column(field.name) if field.name in have else pa.nulls(table.num_rows, field.type)
        if col.type != field.type:
            if not _castable(col.type, field.type):
                raise SchemaError(f"{kind}: column {field.name!r} has type {col.type}, expected {field.type}")
            try:
                col = pc.cast(col, field.type, safe=True)
            except pa.ArrowException as e:
                raise SchemaError(
                    f"{kind}: column {field.name!r} does not fit {field.type} ({' '.join(str(e).split())[:120]})"
                ) from None
        columns.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    out = pa.Table.from_arrays(columns, schema=schema)  # also checks the non-nullable fields
    _check_values(kind, out)
    return out


def _check_values(kind: str, t: pa.Table) -> None:
    for field in t.schema:
        col = t.column(field.name)
        if not field.nullable and col.null_count:
            raise SchemaError(f"{kind} row {_first_true(pc.is_null(col))}: field {field.name!r} is null")
        if pa.types.is_list(field.type):
            flat = pc.list_flatten(col)
            if flat.null_count:
                row = _first_row_with(col, lambda v: v.null_count > 0)
                raise SchemaError(f"{kind} row {row}: field {field.name!r} has a null element")
            if pa.types.is_floating(field.type.value_type) and len(flat) and pc.any(pc.is_nan(flat)).as_py():
                row = _first_row_with(col, lambda v: len(v) > 0 and pc.any(pc.is_nan(v)).as_py())
                raise SchemaError(f"{kind} row {row}: field {field.name!r} has a NaN element")
        elif pa.types.is_floating(field.type) and len(t) and pc.any(pc.is_nan(col)).as_py():
            raise SchemaError(f"{kind} row {_first_true(pc.is_nan(col))}: field {field.name!r} is NaN")
        if field.name in _NON_EMPTY and len(t):
            empty = pc.equal(pc.utf8_length(col), 0)
            if pc.any(empty).as_py():
                raise SchemaError(f"{kind} row {_first_true(empty)}: field {field.name!r} is empty")
        if field.name in _NON_NEGATIVE and len(t):
            neg = pc.less(col, 0)
            if pc.any(neg).as_py():
                row = _first_true(neg)
                raise SchemaError(f"{kind} row {row}: field {field.name!r} is negative ({col[row].as_py()})")
    if kind == "samples":
        n = t.column("n_tokens")
        for name in ("token_ids", "token_logp_decoding", "token_logp_raw", "policy_mask"):
            _check_length(kind, t, name, n, "n_tokens")
        flat = pc.list_flatten(t.column("policy_mask"))
        if len(flat) and (pc.min(flat).as_py() < 0 or pc.max(flat).as_py() > 1):
            row = _first_row_with(t.column("policy_mask"),
                                  lambda v: len(v) > 0 and (pc.min(v).as_py() < 0 or pc.max(v).as_py() > 1))
            raise SchemaError(f"{kind} row {row}: field 'policy_mask' has a value other than 0 and 1")
    elif kind == "scores":
        n = pc.list_value_length(t.column("token_logp_decoding"))
        _check_length(kind, t, "token_logp_raw", n, "token_logp_decoding")
        _check_length(kind, t, "token_kl", n, "token_logp_decoding")
        over = pc.greater(t.column("n_singular_tokens"), n)
        if len(t) and pc.any(over).as_py():
            raise SchemaError(
                f"{kind} row {_first_true(over)}: field 'n_singular_tokens' exceeds the number of tokens"
            )
    _check_unique(kind, t)


def _first_row_with(col: pa.ChunkedArray | pa.Array, test) -> int:
    """The first row whose list passes ``test`` (a slow scan, used only to report an error)."""
    for i in range(len(col)):
        scalar = col[i]
        if scalar.is_valid and test(scalar.values):
            return i
    return 0  # pragma: no cover - only called when some row passes


def _check_length(kind: str, t: pa.Table, name: str, expected, expected_name: str) -> None:
    if not len(t):
        return
    got = pc.list_value_length(t.column(name))
    bad = pc.fill_null(pc.not_equal(got, pc.cast(expected, pa.int32())), False)
    if pc.any(bad).as_py():
        row = _first_true(bad)
        what = "is" if expected_name == "n_tokens" else "has"
        raise SchemaError(
            f"{kind} row {row}: field {name!r} has {got[row].as_py()} elements but "
            f"{expected_name} {what} {expected[row].as_py()}"
        )


def _check_unique(kind: str, t: pa.Table) -> None:
    keys = list(ROW_KEYS[kind])
    if len(t) < 2:
        return
    dup = duplicate_rows(t, keys)
    if dup is not None:
        first, second = dup
        what = ", ".join(f"{k}={t.column(k)[first].as_py()!r}" for k in keys)
        raise SchemaError(f"{kind} rows {first} and {second}: the same row ({what}) occurs twice")


def _key_codes(t: pa.Table, keys: list[str]) -> np.ndarray | None:
    """One int64 per row, equal for two rows iff their ``keys`` are equal (each column's values
    ranked, the ranks combined in mixed radix); None when a key has nulls or the radix overflows."""
    code = np.zeros(len(t), dtype=np.int64)
    radix = 1
    for k in keys:
        col = t.column(k)
        if col.null_count:
            return None
        if pa.types.is_integer(col.type):
            values, inv = np.unique(col.to_numpy(), return_inverse=True)
            size = values.size
        else:
            enc = pc.dictionary_encode(col.combine_chunks())
            inv, size = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(enc.dictionary)
        if radix * max(size, 1) >= 2**62:
            return None
        code += inv.reshape(-1).astype(np.int64) * radix
        radix *= max(size, 1)
    return code


def duplicate_rows(t: pa.Table, keys: list[str]) -> tuple[int, int] | None:
    """The first two row indices that share ``keys``, or None when every key occurs once. (First
    the keys' integer codes are counted, a sort; only when two agree, or codes cannot be made, does
    a group-by find the rows.)"""
    if len(t) < 2:
        return None
    codes = _key_codes(t, keys)
    if codes is not None and np.unique(codes).size == codes.size:
        return None
    idx = pa.array(np.arange(len(t), dtype=np.int64))
    g = (
        t.select(keys)
        .append_column("__row", idx)
        .group_by(keys, use_threads=False)
        .aggregate([("__row", "count"), ("__row", "min"), ("__row", "max")])
    )
    multi = g.filter(pc.greater(g.column("__row_count"), 1))
    if not len(multi):
        return None
    j = int(pc.index(multi.column("__row_min"), pc.min(multi.column("__row_min"))).as_py())
    first = int(multi.column("__row_min")[j].as_py())
    # the second occurrence of that key
    mask = pa.array(np.ones(len(t), dtype=bool))
    for k in keys:
        mask = pc.and_(mask, pc.equal(t.column(k), t.column(k)[first]))
    rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    return first, int(rows[1])
