"""The SFT data audit workflow: score demonstrations under the base, write audit.json and per_example."""

from __future__ import annotations

from pathlib import Path

from supportscope.analysis.audit import audit, read_demonstrations
from supportscope.atomic import write_set
from supportscope.models.config import DecodingConfig, EngineConfig, Policy
from supportscope.errors import InputError
from supportscope.pipeline.outputs import AUDIT_FILES, check_out_dir
from supportscope.pipeline.progress import progress_bar
from supportscope.pipeline.sample import MODEL_LIBS, load_backend
from supportscope.report.writers import json_bytes, table_files
from supportscope.versions import library_versions

__all__ = ["audit_data"]


def audit_data(data: Path, policy: Policy, decoding: DecodingConfig, batch_size: int,
               out: Path | None = None, engine: EngineConfig | None = None) -> tuple[dict, Path]:
    """Surprisal of the demonstrations in ``data`` (JSONL of prompt/completion) under ``policy`` and
    their share of tokens outside its decoding support; writes OUT/audit.json and
    OUT/per_example.parquet/.csv as one set (OUT defaults to DATA_audit next to DATA; checked before
    the model is loaded); returns (summary, OUT)."""
    data = Path(data)
    out = check_out_dir(out or data.with_name(data.stem + "_audit"), AUDIT_FILES)
    demos = read_demonstrations(data)
    if all(d["completion"] == "" for d in demos):  # known before the model loads
        raise InputError(str(data), f"no completion has a token to score ({len(demos)} of {len(demos)} are empty)",
                         "add demonstrations with non-empty completions")
    backend = load_backend(policy, batch_size, engine)
    with progress_bar(f"scoring under {policy.name}", len(demos), unit="examples") as advance:
        table, summary = audit(backend, decoding, demos, batch_size, progress=advance, source=str(data))
    summary.update(model=policy.to_dict(), data=str(data), versions=library_versions(MODEL_LIBS))
    write_set(out, {**table_files("per_example", table), "audit.json": json_bytes(summary)})
    return summary, out
