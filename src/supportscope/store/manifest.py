"""The run store's manifest (``RUN/manifest.json``): its format, its JSON text, model configs in it,
and reading and indexing it (for :class:`~supportscope.store.run.RunStore`)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .paths import check_shard_files
from .schema import KINDS
from ..errors import StoreError

#: The manifest's ``format``; a reader refuses any other.
FORMAT = "supportscope-run/1"
MANIFEST = "manifest.json"
_SHARD_FIELDS = ("kind", "model", "key", "file", "rows", "sha256", "written")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def json_config(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "(config)": value}


def config_diff(old: dict, new: dict, limit: int = 4) -> str:
    """The differing keys of two configs, flattened ("policy.model: ... in the run, ... now"), for
    the one-line errors that refuse to mix two configs under one name."""
    a, b = _flatten(old), _flatten(new)
    absent = object()
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k, absent) != b.get(k, absent)]
    parts = []
    for k in keys[:limit]:
        va = "(absent)" if k not in a else json.dumps(a[k])
        vb = "(absent)" if k not in b else json.dumps(b[k])
        parts.append(f"{k}: {va[:60]} in the run, {vb[:60]} now")
    more = f"; and {len(keys) - limit} more" if len(keys) > limit else ""
    return "; ".join(parts) + more


def manifest_json(manifest: dict[str, Any]) -> str:
    """The manifest as JSON with one top-level field, entry and shard per line (readable, and
    fast: every line is made by the C encoder)."""

    def dump(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False)

    fields = []
    for key, value in manifest.items():
        if isinstance(value, dict) and value:
            inner = ",\n".join(f"  {dump(k)}: {dump(v)}" for k, v in value.items())
            fields.append(f" {dump(key)}: {{\n{inner}\n }}")
        elif isinstance(value, list) and value:
            inner = ",\n".join(f"  {dump(v)}" for v in value)
            fields.append(f" {dump(key)}: [\n{inner}\n ]")
        else:
            fields.append(f" {dump(key)}: {dump(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def manifest_stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime_ns, size) of the manifest file, or None when absent: a reader re-reads the
    manifest when this changes."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read_manifest(run: Path) -> dict[str, Any]:
    """The manifest of the run directory ``run``, checked (format, entries, shard entries, and
    every shard's file inside the run: :mod:`.paths`).

    Raises:
        StoreError: no manifest, unreadable JSON, another format, malformed shard entries, or a
            shard file outside the run (absolute, ``..``, a symlink out of it).
    """
    path = run / MANIFEST
    fix = f"restore {MANIFEST} from a backup, or start a new run in a new --out folder"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(run, f"not a supportscope run (no {MANIFEST})", "check the path") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(path, f"not readable JSON ({' '.join(str(e).split())[:120]})", fix) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise StoreError(path, f"format is {got!r}, expected {FORMAT!r}",
                         f"read it with the supportscope version that wrote it, or {fix}")
    if not isinstance(manifest.get("entries"), dict) or not isinstance(manifest.get("shards"), list):
        raise StoreError(path, "has no 'entries' object or no 'shards' list", fix)
    for i, s in enumerate(manifest["shards"]):
        if not isinstance(s, dict) or any(f not in s for f in _SHARD_FIELDS) or s["kind"] not in KINDS:
            raise StoreError(path, f"shard record {i} is malformed (needs {', '.join(_SHARD_FIELDS)})", fix)
    check_shard_files(run, manifest["shards"], path)
    return manifest


Index = dict[tuple[str, str, str], dict[str, Any]]


def index_shards(manifest: dict[str, Any], path: Path | None = None) -> tuple[Index, dict[str, tuple[str, str, str]]]:
    """The manifest's shard entries by (kind, model, key), and shard identities by file name
    (case-folded, to refuse two names that one case-insensitive file system would merge). With
    ``path`` (a manifest read from disk), a shard listed twice is a StoreError."""
    index: Index = {}
    files: dict[str, tuple[str, str, str]] = {}
    for s in manifest["shards"]:
        ident = (s["kind"], s["model"], s["key"])
        if ident in index and path is not None:
            raise StoreError(path, f"shard {s['key']!r} of {s['kind']} of model {s['model']!r} is listed twice",
                             "remove one of the two entries")
        index[ident] = s
        files[s["file"].casefold()] = ident
    return index, files


def without_followup(entry: Any) -> Any:
    """An entry without its ``"followup"`` (added by ``RunStore.add_followup``), for comparing configs."""
    return {k: v for k, v in entry.items() if k != "followup"} if isinstance(entry, dict) else entry


def check_same_entry(manifest_path: Path, model: str, old: Any, new: Any) -> None:
    """Refuse (StoreError naming the differing keys) a ``new`` config of ``model`` that differs from
    the ``old`` entry in the run (a follow-up added later is no change): how ``RunStore.register``
    refuses to mix two configs under one name, also used to check before a model is loaded."""
    if without_followup(old) != without_followup(new):
        raise StoreError(manifest_path, f"model {model!r} is already in this run with another config "
                         f"({config_diff(without_followup(old), without_followup(new))})",
                         "resume with the run's settings, or write to a new --out folder, or give the model a "
                         "different --name")


def entry_config(manifest_path: Path, value: Any, what: str, settings: str) -> dict[str, Any]:
    """``value`` as the JSON data a manifest entry holds, or a StoreError naming ``what``."""
    if not isinstance(value, Mapping):
        raise StoreError(manifest_path, f"{what} is a {type(value).__name__}, not a dict", f"pass {settings} as a dict")
    try:
        return json_config(dict(value))
    except (TypeError, ValueError) as e:
        raise StoreError(manifest_path, f"{what} is not JSON data ({e})",
                         "pass dicts, lists, strings, finite numbers, booleans and None only") from None
