"""Batches sized by tokens, not only by sequences (``--max-batch-tokens``), and rows grouped by prompt.

A batch of rows whose prompts are left-padded to the longest one (sampling) or whose prompt and
completion are padded to the longest of each (scoring) holds, in its KV cache and activations,

    padded_tokens(batch) = rows * (max_i prompt_i + max_i extra_i)

token slots (``extra`` = max_new_tokens when sampling, the completion length when scoring). That
is what bounds memory and what one forward pass costs, so a batch is closed when one more row would
make it exceed ``max_tokens`` (or hold more than ``max_rows`` rows); a row that alone exceeds the
budget runs alone. The rows are taken in the order given (callers sort them by length, so padding
stays small).

No torch here: this is list bookkeeping, tested against brute force.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def padded_tokens(sizes: Sequence[tuple[int, int]]) -> int:
    """rows * (max prompt + max extra) for the (prompt_len, extra_len) of each row; 0 for no rows."""
    if not sizes:
        return 0
    return len(sizes) * (max(p for p, _ in sizes) + max(e for _, e in sizes))


def token_batches(sizes: Sequence[tuple[int, int]], max_rows: int, max_tokens: int = 0) -> list[list[int]]:
    """Consecutive batches of positions 0..len(sizes)-1 (in order), each of at most ``max_rows`` rows and,
    when ``max_tokens`` > 0, of :func:`padded_tokens` <= ``max_tokens`` (a single row always fits).

    Greedy: a batch takes rows until the next one would break a limit. Because padded_tokens of a
    batch never decreases when a row is added, greedy gives the fewest batches among splits into
    consecutive runs.
    """
    if max_rows < 1 or max_tokens < 0:
        raise ValueError(f"max_rows must be >= 1 and max_tokens >= 0, got {max_rows}, {max_tokens}")
    out: list[list[int]] = []
    cur: list[int] = []
    mp = me = 0
    for i, (p, e) in enumerate(sizes):
        np_, ne = max(mp, p), max(me, e)
        if cur and (len(cur) >= max_rows or (max_tokens and (len(cur) + 1) * (np_ + ne) > max_tokens)):
            out.append(cur)
            cur, np_, ne = [], p, e
        cur.append(i)
        mp, me = np_, ne
    if cur:
        out.append(cur)
    return out


def group_order(keys: Sequence[Hashable], lengths: Sequence[int], within: Sequence[int] | None = None) -> list[int]:
    """Indices sorted by (length, first appearance of the key, within, index): equal keys (the same
    prompt) are adjacent, so they land in one batch and share one prefill, and lengths ascend (little
    padding); ``within`` (e.g. completion lengths) orders the rows of one key."""
    first: dict[Hashable, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    w = within if within is not None else [0] * len(keys)
    return sorted(range(len(keys)), key=lambda i: (lengths[i], first[keys[i]], w[i], i))


def unique_rows(keys: Sequence[Hashable]) -> tuple[list[int], list[int]]:
    """(first index of each distinct key in order of appearance, for every row the position of its key
    in that list): rows[i] is a copy of distinct[which[i]]."""
    where: dict[Hashable, int] = {}
    firsts: list[int] = []
    which: list[int] = []
    for i, k in enumerate(keys):
        if k not in where:
            where[k] = len(firsts)
            firsts.append(i)
        which.append(where[k])
    return firsts, which


__all__ = ["group_order", "padded_tokens", "token_batches", "unique_rows"]
