"""Per-sample token counts that leave out environment tokens (issue 16).

A sample with environment turns has a ``policy_mask`` (1 = a token the policy generated, 0 = a
token of an environment's reply); null, or a table without the column (a run written before it
existed), means every token is the policy's. Per-token averages of the policy (e.g. the surprisal
in ``analysis.kl_account``) divide by

    n_policy = sum_t policy_mask[t]      (= n_tokens when policy_mask is null)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["policy_token_counts"]


def policy_token_counts(table: pa.Table) -> np.ndarray:
    """``n_policy`` (module docstring) of each row of a samples table (columns ``n_tokens`` and,
    when present, ``policy_mask``), as int64."""
    n = table.column("n_tokens").to_numpy(zero_copy_only=False).astype(np.int64)
    if "policy_mask" not in table.column_names or table.column("policy_mask").null_count == table.num_rows:
        return n
    mask = table.column("policy_mask").combine_chunks()
    sums = np.zeros(len(mask), dtype=np.int64)
    has = ~mask.is_null().to_numpy(zero_copy_only=False)
    lengths = pc.list_value_length(mask).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(mask).to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.repeat(np.flatnonzero(has), lengths[has].astype(np.int64))
    np.add.at(sums, rows, flat)
    return np.where(has, sums, n)
