"""Data audit for SFT (DESIGN.md section 4): how much of a demonstration set lies outside the base.

For each demonstration (prompt x, completion y), teacher-force y under the base pi0 (prompt as
the base formats it, completion tokenised once by the base tokenizer: SFT data is text, so this is
the tokenisation SFT itself would use):
- surprisal = -(1/|y|) sum_t log pi0_raw(y_t | x, y_<t)  (nats per token, raw distribution);
- out-of-support tokens: tokens with probability 0 under pi0's decoding distribution (outside
  its top-p / top-k / min-p set): SFT on them changes the support; reweighting cannot reach them.
Aggregates: mean surprisal over examples (paired-bootstrap interval), the share of tokens and of
examples outside the support.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from supportscope.errors import InputError
from supportscope.io.files import HEAD_BYTES, check_text, regular_file
from supportscope.models.config import BATCH_SIZE
from supportscope.stats import PairedBootstrap, percentile_interval


def read_demonstrations(path: Path) -> list[dict]:
    """JSONL lines {"prompt": str, "completion": str[, "id": ...]}; errors name the line."""
    if not path.exists():
        raise InputError(str(path), "no such file", "pass a JSONL file of {prompt, completion} lines")
    regular_file(str(path), "pass a JSONL file of {prompt, completion} lines", what="JSONL file")  # a FIFO blocks
    rows = []
    with open(path, "rb") as f:
        check_text(str(path), f.peek(HEAD_BYTES)[:HEAD_BYTES], "JSON Lines text")
        for i, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(str(path), "bytes that are not UTF-8", "save the file as UTF-8", line=i) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(str(path), f"invalid JSON ({e.msg})", "one JSON object per line", line=i) from None
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) \
                    or not isinstance(obj.get("completion"), str):
                raise InputError(str(path), "each line needs string fields prompt and completion",
                                 'write {"prompt": "...", "completion": "..."}', line=i)
            rows.append({"id": str(obj.get("id", len(rows))), "prompt": obj["prompt"],
                         "completion": obj["completion"], "line": i})
    if not rows:
        raise InputError(str(path), "no demonstrations", "add JSONL lines {prompt, completion}")
    return rows


def audit(backend, decoding, demos: list[dict], batch_size: int = BATCH_SIZE, bootstrap: int = 2000, alpha: float = 0.05,
          progress: Callable[[int], None] | None = None, source: str = "<demonstrations>") -> tuple[pa.Table, dict]:
    """Score ``demos`` (from :func:`read_demonstrations`; ``source`` names their file in errors).
    A completion that tokenises to nothing is skipped (counted in ``skipped_empty``); a set with
    no completion left, or a prompt that encodes to no token, is a one-line InputError."""
    tok = backend.tokenizer
    items = []
    for d in demos:
        ids = [int(i) for i in tok(d["completion"], add_special_tokens=False)["input_ids"]]
        if not ids:
            continue
        prompt_ids = backend.encode_prompt(d["prompt"])
        if len(prompt_ids) == 0:
            raise InputError(source, "the prompt encodes to no token, so the completion's first token has no "
                             "context to be scored in", "give each demonstration a non-empty prompt",
                             line=d.get("line"))
        items.append((d["id"], 0, prompt_ids, ids))
    if not items:
        raise InputError(source, f"no completion has a token to score ({len(demos)} of {len(demos)} are empty)",
                         "add demonstrations with non-empty completions")
    if progress and len(items) < len(demos):
        progress(len(demos) - len(items))  # the skipped ones are done too
    scores = []
    for s in range(0, len(items), batch_size):
        scores.extend(backend.score(items[s:s + batch_size], decoding))
        if progress:
            progress(len(items[s:s + batch_size]))
    n_tok = np.array([sc.n_tokens for sc in scores], dtype=float)
    surprisal = np.array([-sc.logp_raw for sc in scores]) / n_tok
    singular = np.array([sc.n_singular_tokens for sc in scores], dtype=np.int64)
    table = pa.table({"id": [sc.problem_id for sc in scores], "n_tokens": n_tok.astype(np.int64),
                      "surprisal": surprisal, "out_of_support_tokens": singular,
                      "out_of_support_share": singular / n_tok})
    boot = PairedBootstrap(len(scores), bootstrap, 0)
    lo, hi = percentile_interval(boot.means(surprisal), alpha)
    summary = {
        "examples": len(scores), "skipped_empty": len(demos) - len(items), "tokens": int(n_tok.sum()),
        "surprisal_mean": float(surprisal.mean()), "surprisal_lo": float(lo), "surprisal_hi": float(hi),
        "surprisal_token_weighted": float(-sum(sc.logp_raw for sc in scores) / n_tok.sum()),
        "out_of_support_tokens": int(singular.sum()),
        "out_of_support_token_share": float(singular.sum() / n_tok.sum()),
        "examples_with_out_of_support_tokens": int((singular > 0).sum()),
        "decoding": decoding.to_dict(),
    }
    return table, summary
