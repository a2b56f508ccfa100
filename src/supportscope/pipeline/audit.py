"""The SFT data audit workflow: score demonstrations under the base, write audit.json and per_example."""

from __future__ import annotations

from pathlib import Path

from supportscope.analysis.audit import audit, read_demonstrations
from supportscope.models.config import DecodingConfig, Policy
from supportscope.pipeline.progress import progress_bar
from supportscope.pipeline.sample import MODEL_LIBS, load_backend
from supportscope.report.writers import write_json, write_table
from supportscope.versions import library_versions

__all__ = ["audit_data"]


def audit_data(data: Path, policy: Policy, decoding: DecodingConfig, batch_size: int,
               out: Path | None = None) -> tuple[dict, Path]:
    """Surprisal of the demonstrations in ``data`` (JSONL of prompt/completion) under ``policy`` and
    their share of tokens outside its decoding support; writes OUT/audit.json and
    OUT/per_example.parquet/.csv (OUT defaults to DATA_audit next to DATA); returns (summary, OUT)."""
    demos = read_demonstrations(data)
    backend = load_backend(policy, batch_size)
    with progress_bar(f"scoring under {policy.name}", len(demos), unit="examples") as advance:
        table, summary = audit(backend, decoding, demos, batch_size, progress=advance)
    out = out or data.with_name(data.stem + "_audit")
    summary.update(model=policy.to_dict(), data=str(data), versions=library_versions(MODEL_LIBS))
    write_table(out / "per_example", table)
    write_json(out / "audit.json", summary)
    return summary, out
