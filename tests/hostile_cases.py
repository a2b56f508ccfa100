"""The hostile inputs of tests/test_hostile.py (issue 14), one :class:`Case` per row of :data:`CASES`.

A case builds its inputs in its own folder (:class:`Ctx`: bad files, copies of one shared sampled
run and of one saved analysis, TOML configs) and returns the command line to run there. The command
must fail as a user error: exit 2, ONE stderr line ``error: ...`` naming the case's ``needles``
(the file, key or flag at fault), no traceback, and the case folder (existing outputs, the run, the
``victim.txt`` next to it) byte for byte as it was.

The shared inputs (:class:`Shared`) are built once per test session by :func:`build_shared`: two
tiny random Llamas with a character tokenizer, four problems, a run directory sampled from both
models (n = 2) and scored under the base, and a complete ``analyze`` output folder.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

VICTIM = "victim.txt"
"""In every case folder, outside the run and the outputs: must be left as it is (not read into an
output, not overwritten, not deleted)."""

GOOD_CSV = "problem_id,model,n,correct\n" + "".join(
    f"p{i},{m},16,{(3 * i + len(m)) % 17}\n" for i in range(12) for m in ("base", "tuned"))
"""A valid counts file: 12 problems of models 'base' and 'tuned', n = 16."""

PROBLEMS = [{"id": f"q{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i)} for i in range(4)]


@dataclass(frozen=True)
class Shared:
    """Inputs built once per session (read-only for the cases: copy before changing)."""

    base: Path  # tiny Llama directory (safetensors + tokenizer)
    tuned: Path
    problems: Path  # problems.jsonl of PROBLEMS
    run: Path  # run directory: samples of 'base' and 'tuned' (n = 2), scores under 'base'
    analysis: Path  # `analyze --out` folder of GOOD_CSV (complete output set)


def build_shared(root: Path) -> Shared:
    """Build :class:`Shared` under ``root`` in-process (about 5 s on 2 cores: no CLI start-ups)."""
    import torch

    from supportscope.analysis import AnalyzeConfig
    from supportscope.models.config import DecodingConfig, Policy
    from supportscope.models.tiny import char_tokenizer, save_tiny_llama
    from supportscope.pipeline.analyse import analyse
    from supportscope.pipeline.sample import run_sample, run_score
    from supportscope.scale.config import SampleJobConfig

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tok = char_tokenizer()
        base = save_tiny_llama(root / "base", seed=0, tokenizer=tok)
        tuned = save_tiny_llama(root / "tuned", seed=1, tokenizer=tok)
        problems = root / "problems.jsonl"
        problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
        job = SampleJobConfig(tasks=str(problems), n=2, limit=len(PROBLEMS), problems_per_shard=2)
        dec = DecodingConfig(max_new_tokens=4)
        for name, model in (("base", base), ("tuned", tuned)):
            run_sample(Policy(model=str(model), name=name), dec, job, root / "run")
        run_score(root / "run", Policy(model=str(base), name="base"), 8, False, None)
    finally:
        torch.set_num_threads(old)
    (root / "good.csv").write_text(GOOD_CSV)
    analyse([root / "good.csv"], base="base", tuned="tuned", out=root / "analysis",
            config=AnalyzeConfig(bootstrap=100), quiet=True)
    return Shared(base, tuned, problems, root / "run", root / "analysis")


class Ctx:
    """A case's folder ``d`` (the command's working directory) and helpers that build inputs in it;
    every helper returns the path relative to ``d``, as the command line names it."""

    def __init__(self, d: Path, shared: Shared):
        self.d, self.s = d, shared

    def file(self, name: str, data: str | bytes) -> str:
        p = self.d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return name

    def folder(self, name: str) -> str:
        (self.d / name).mkdir(parents=True, exist_ok=True)
        return name

    def run(self, name: str = "run") -> str:
        shutil.copytree(self.s.run, self.d / name, symlinks=True)
        return name

    def analysis(self, name: str = "analysis") -> str:
        shutil.copytree(self.s.analysis, self.d / name, symlinks=True)
        return name

    def manifest(self, run: str, edit: Callable[[dict], object]) -> None:
        """Rewrite RUN/manifest.json after ``edit(manifest)`` (changes it in place)."""
        path = self.d / run / "manifest.json"
        m = json.loads(path.read_text())
        edit(m)
        path.write_text(json.dumps(m, indent=1))

    def shard(self, run: str, kind: str = "samples", model: str = "base", i: int = 0) -> Path:
        """The file of the i-th shard of (kind, model) in RUN (absolute)."""
        m = json.loads((self.d / run / "manifest.json").read_text())
        recs = [s for s in m["shards"] if s["kind"] == kind and s["model"] == model]
        return self.d / run / recs[i]["file"]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` -> ("dir", mode) | ("link", target) | ("file", mode, sha256 of bytes)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode)
            else:
                out[rel] = ("file", st.st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


# -- file contents ------------------------------------------------------------------------------


def parquet_bytes(columns: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


def good_parquet() -> bytes:
    lines = GOOD_CSV.splitlines()[1:]
    rows = [line.split(",") for line in lines]
    return parquet_bytes({"problem_id": [r[0] for r in rows], "model": [r[1] for r in rows],
                          "n": [int(r[2]) for r in rows], "correct": [int(r[3]) for r in rows]})


def csv_with(n: str, correct: str) -> str:
    """GOOD_CSV with the counts of problem p2 of model 'tuned' (line 7) replaced by ``n`` and ``correct``."""
    lines = GOOD_CSV.splitlines()
    assert lines[6].startswith("p2,tuned,")
    lines[6] = f"p2,tuned,{n},{correct}"
    return "\n".join(lines) + "\n"


BINARY = bytes(range(256)) * 4 + b"\x00\xff\xfe" * 100
GZIP_CSV = gzip.compress(GOOD_CSV.encode(), mtime=0)


def flip_correct(path: Path) -> None:
    """Rewrite a samples shard as valid Parquet with its `correct` column flipped (same schema)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from supportscope.store.shard_files import parquet_bytes as shard_bytes

    t = pq.read_table(path)
    i = t.schema.get_field_index("correct")
    t = t.set_column(i, t.schema.field(i), pc.invert(t.column("correct")))
    path.write_bytes(shard_bytes(t))


# -- cases --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    command: str  # the subcommand, for the counts in the report (analyze, sample, ...)
    name: str
    build: Callable[[Ctx], list[str]]  # -> argv after `supportscope`
    needles: tuple[str, ...]  # each must appear in the error line
    rc: int = 2
    xfail: str | None = None  # a known bug (set from KNOWN_BUGS): the case is marked xfail(strict=True)
    as_root_skip: bool = False  # a permission case: root writes anyway
    may_create: tuple[str, ...] = field(default=())  # paths the command may create (none for a failure)

    @property
    def id(self) -> str:
        return f"{self.command}-{self.name}"


CASES: list[Case] = []


def case(command: str, name: str, needles, rc: int = 2, as_root_skip: bool = False):
    """Decorator: register the build function as a case (``needles``: one string or a tuple)."""
    def deco(build):
        CASES.append(Case(command, name, build, (needles,) if isinstance(needles, str) else tuple(needles), rc,
                          as_root_skip=as_root_skip))
        return build
    return deco


# ---- analyze ------------------------------------------------------------------------------------

ANALYZE_TAIL = ["--base", "base", "--tuned", "tuned", "--bootstrap", "100", "--out", "out"]


def analyze_args(*results: str, tail: list[str] | None = None) -> list[str]:
    return ["analyze", *results, *(ANALYZE_TAIL if tail is None else tail)]


def _analyze_file(name: str, file: str, data, needles=None):
    def build(c: Ctx) -> list[str]:
        return analyze_args(c.file(file, data() if callable(data) else data))
    case("analyze", name, needles or (file,))(build)


for _name, _file, _data, _needles in [
    ("empty-csv", "empty.csv", b"", None),
    ("binary-csv", "binary.csv", BINARY, None),
    ("wrong-columns", "cols.csv", "foo,bar,baz\n1,2,3\n", ("cols.csv:1",)),
    ("nan-correct", "nan.csv", csv_with("16", "nan"), ("nan.csv:7", "correct")),
    ("negative-n", "negn.csv", csv_with("-16", "3"), ("negn.csv:7",)),
    ("correct-above-n", "cgtn.csv", csv_with("16", "17"), ("cgtn.csv:7", "correct")),
    ("huge-n", "hugen.csv", csv_with("1" + "0" * 30, "3"), ("hugen.csv:7",)),
    ("duplicated-ids", "dup.csv", GOOD_CSV + "p3,base,16,2\n", ("dup.csv", "p3")),
    ("truncated-parquet", "trunc.parquet", lambda: good_parquet()[: len(good_parquet()) // 2], None),
    ("wrong-extension", "results.txt", GOOD_CSV, None),
    ("gzip-named-csv", "gz.csv", GZIP_CSV, None),
    ("parquet-named-csv", "pq.csv", good_parquet, None),
    ("csv-named-parquet", "text.parquet", GOOD_CSV, None),
    ("jsonl-bad-line", "badline.jsonl",
     '{"problem_id": "p0", "model": "base", "n": 16, "correct": 3}\n{"problem_id": "p0", "model": \n',
     ("badline.jsonl:2",)),
    ("jsonl-huge-float", "hugef.jsonl",
     ('{"problem_id": "p0", "model": "base", "n": 1e400, "correct": 3}\n'
      '{"problem_id": "p0", "model": "tuned", "n": 16, "correct": 3}\n'), ("hugef.jsonl",)),
    # a file that ends inside a UTF-8 character (a cut download): on the first line, and after good lines
    ("jsonl-cut-in-a-character", "cut.jsonl", b'{"problem_id": "\xc3', ("cut.jsonl",)),
    ("jsonl-cut-in-a-character-line-3", "cut3.jsonl",
     (b'{"problem_id": "p0", "model": "base", "n": 16, "correct": 3}\n'
      b'{"problem_id": "p0", "model": "tuned", "n": 16, "correct": 3}\n{"x\xc3'), ("cut3.jsonl",)),
    ("utf16-csv", "utf16.csv", GOOD_CSV.encode("utf-16"), None),
    ("megabyte-field", "mb.csv", csv_with("9" * 1_000_000, "3"), ("mb.csv:7",)),
]:
    _analyze_file(_name, _file, _data, _needles)


@case("analyze", "missing-file", "nope.csv")
def _(c):
    return analyze_args("nope.csv")


@case("analyze", "directory-as-file", "somedir")
def _(c):
    c.file("somedir/r.csv", GOOD_CSV)
    return analyze_args("somedir")


def _analyze_flag(name: str, flags: list[str], needles):
    def build(c: Ctx) -> list[str]:
        return ["analyze", c.file("good.csv", GOOD_CSV), "--base", "base", "--tuned", "tuned", "--out", "out",
                *flags]
    case("analyze", name, needles)(build)


for _name, _flags, _needles in [
    ("budget-float", ["--budget", "1e7"], "--budget"),
    ("seed-negative", ["--seed", "-1"], "--seed"),
    ("seed-float", ["--seed", "1e23"], "--seed"),
    ("bootstrap-float", ["--bootstrap", "1e13"], "--bootstrap"),
    ("zeta-nan", ["--zeta", "nan"], "--zeta"),
    ("unknown-flag", ["--nosuch-flag", "1"], "--nosuch-flag"),
]:
    _analyze_flag(_name, _flags, _needles)


@case("analyze", "out-is-a-file", "taken")
def _(c):
    c.file("taken", "I am a file\n")
    return analyze_args(c.file("good.csv", GOOD_CSV), tail=[*ANALYZE_TAIL[:-1], "taken"])


@case("analyze", "out-under-a-file", "taken")
def _(c):
    c.file("taken", "I am a file\n")
    return analyze_args(c.file("good.csv", GOOD_CSV), tail=[*ANALYZE_TAIL[:-1], "taken/sub"])


@case("analyze", "out-read-only", "readonly", as_root_skip=True)
def _(c):
    c.folder("readonly")
    os.chmod(c.d / "readonly", 0o555)
    return analyze_args(c.file("good.csv", GOOD_CSV), tail=[*ANALYZE_TAIL[:-1], "readonly/out"])


@case("analyze", "out-output-name-is-a-folder", "summary.json")
def _(c):
    c.folder("out/summary.json")
    return analyze_args(c.file("good.csv", GOOD_CSV))


@case("analyze", "bad-input-keeps-old-outputs", "bad.csv:7")
def _(c):
    c.analysis("out")
    return analyze_args(c.file("bad.csv", csv_with("16", "99")))


@case("analyze", "run-symlink-shard-escapes", ("manifest.json",))
def _(c):
    run = c.run()
    shard = c.shard(run)
    shard.unlink()
    shard.symlink_to(os.path.relpath(c.d / VICTIM, shard.parent))
    return analyze_args(run)


@case("analyze", "run-manifest-dotdot-file", ("manifest.json", "victim.txt"))
def _(c):
    run = c.run()

    def edit(m):
        next(s for s in m["shards"] if s["kind"] == "samples")["file"] = "../../victim.txt"
    c.manifest(run, edit)
    return analyze_args(run)


@case("analyze", "run-manifest-absolute-file", ("manifest.json", "/etc/passwd"))
def _(c):
    run = c.run()

    def edit(m):
        next(s for s in m["shards"] if s["kind"] == "samples")["file"] = "/etc/passwd"
    c.manifest(run, edit)
    return analyze_args(run)


@case("analyze", "run-flipped-correct", ("p000000.parquet",))
def _(c):
    run = c.run()
    flip_correct(c.shard(run))
    return analyze_args(run)


@case("analyze", "run-samples-folder-symlink-out", ("manifest.json",))
def _(c):
    run = c.run()
    shutil.copytree(c.d / run / "samples" / "base", c.d / "elsewhere")
    shutil.rmtree(c.d / run / "samples" / "base")
    (c.d / run / "samples" / "base").symlink_to(os.path.relpath(c.d / "elsewhere", c.d / run / "samples"))
    return analyze_args(run)


# ---- sample -------------------------------------------------------------------------------------


def sample_args(c: Ctx, *extra: str, out: str = "run", model: str | None = None, tasks: str | None = None):
    return ["sample", "--model", model or str(c.s.base), "--name", "base", "--tasks", tasks or str(c.s.problems),
            "--n", "2", "--limit", "4", "--problems-per-shard", "2", "--max-new-tokens", "4", "--out", out, *extra]


def _sample_flag(name: str, flags: list[str], needles):
    def build(c: Ctx) -> list[str]:
        return sample_args(c, *flags, out="newrun")
    case("sample", name, needles)(build)


for _name, _flags, _needles in [
    ("n-zero", ["--n", "0"], "--n"),
    ("n-word", ["--n", "four"], "--n"),
    ("top-p-above-one", ["--top-p", "1.5"], "--top-p"),
    ("seed-float", ["--seed", "1e23"], "--seed"),
    ("batch-size-zero", ["--batch-size", "0"], "--batch-size"),
    ("dtype-float64", ["--dtype", "float64"], "--dtype"),
]:
    _sample_flag(_name, _flags, _needles)


@case("sample", "model-missing", "no-such-model")
def _(c):
    return sample_args(c, model="no-such-model", out="newrun")


@case("sample", "tasks-missing", "nosuch.jsonl")
def _(c):
    return sample_args(c, tasks="nosuch.jsonl", out="newrun")


@case("sample", "tasks-duplicated-ids", "dupes.jsonl")
def _(c):
    rows = [json.dumps(p) + "\n" for p in PROBLEMS] + [json.dumps(PROBLEMS[0]) + "\n"]
    return sample_args(c, tasks=c.file("dupes.jsonl", "".join(rows)), out="newrun")


@case("sample", "out-is-a-file", "taken")
def _(c):
    c.file("taken", "I am a file\n")
    return sample_args(c, out="taken")


@case("sample", "out-read-only", "readonly", as_root_skip=True)
def _(c):
    c.folder("readonly")
    os.chmod(c.d / "readonly", 0o555)
    return sample_args(c, out="readonly/run")


@case("sample", "problems-from-binary", "sel.parquet")
def _(c):
    return sample_args(c, "--problems-from", c.file("sel.parquet", BINARY), out="newrun")


@case("sample", "resume-other-decoding", ("temperature",))
def _(c):
    return sample_args(c, "--temperature", "0.7", out=c.run())


@case("sample", "resume-flipped-shard", ("p000000.parquet",))
def _(c):
    run = c.run()
    flip_correct(c.shard(run))
    return sample_args(c, out=run)


@case("sample", "resume-manifest-dotdot-file", ("manifest.json", "victim.txt"))
def _(c):
    run = c.run()

    def edit(m):
        next(s for s in m["shards"] if s["kind"] == "samples" and s["model"] == "base")["file"] = "../../victim.txt"
    c.manifest(run, edit)
    return sample_args(c, out=run)


@case("sample", "resume-symlink-shard-escapes", ("manifest.json",))
def _(c):
    run = c.run()
    shard = c.shard(run)
    shard.unlink()
    shard.symlink_to(os.path.relpath(c.d / VICTIM, shard.parent))
    return sample_args(c, out=run)


# ---- score --------------------------------------------------------------------------------------


def score_args(c: Ctx, run: str, *extra: str, scorer: str | None = None) -> list[str]:
    return ["score", run, "--scorer", scorer or str(c.s.tuned), "--name", "tuned", *extra]


@case("score", "generator-nosuch", "nosuch")
def _(c):
    return score_args(c, c.run(), "--generator", "nosuch")


@case("score", "run-missing", "norun")
def _(c):
    return score_args(c, "norun")


@case("score", "run-is-a-file", "runfile")
def _(c):
    return score_args(c, c.file("runfile", GOOD_CSV))


@case("score", "manifest-not-json", "manifest.json")
def _(c):
    run = c.run()
    c.file(f"{run}/manifest.json", BINARY)
    return score_args(c, run)


@case("score", "manifest-dotdot-file", ("manifest.json", "victim.txt"))
def _(c):
    run = c.run()

    def edit(m):
        next(s for s in m["shards"] if s["kind"] == "samples")["file"] = "../../victim.txt"
    c.manifest(run, edit)
    return score_args(c, run)


@case("score", "symlink-shard-escapes", ("manifest.json",))
def _(c):
    run = c.run()
    shard = c.shard(run)
    shard.unlink()
    shard.symlink_to(os.path.relpath(c.d / VICTIM, shard.parent))
    return score_args(c, run)


@case("score", "flipped-correct", ("p000000.parquet",))
def _(c):
    run = c.run()
    flip_correct(c.shard(run))
    return score_args(c, run)


@case("score", "scorer-missing", "no-such-model")
def _(c):
    return score_args(c, c.run(), scorer="no-such-model")


@case("score", "batch-size-zero", "--batch-size")
def _(c):
    return score_args(c, c.run(), "--batch-size", "0")


# ---- run (TOML) ---------------------------------------------------------------------------------

GOOD_TOML = {
    "": {"out": '"runs/r"', "tasks": '"{problems}"', "n": "2", "limit": "4", "problems_per_shard": "2"},
    "decoding": {"max_new_tokens": "4"},
    "base": {"model": '"{base}"'},
    "tuned": {"model": '"{tuned}"'},
    "analyze": {"bootstrap": "100"},
}


def render_toml(c: Ctx, changes: dict | None = None, extra: str = "") -> str:
    """GOOD_TOML with ``changes`` ({table: {key: raw TOML value, or None to drop it}, or None to drop
    the table}), as text."""
    doc = {t: dict(kv) for t, kv in GOOD_TOML.items()}
    for table, kv in (changes or {}).items():
        if kv is None:  # drop the whole table
            doc.pop(table, None)
            continue
        doc.setdefault(table, {})
        for k, v in kv.items():
            if v is None:
                doc[table].pop(k, None)
            else:
                doc[table][k] = v
    lines = []
    for table, kv in doc.items():
        if table:
            lines.append(f"\n[{table}]")
        lines += [f"{k} = {v}" for k, v in kv.items()]
    text = "\n".join(lines) + "\n" + extra
    return text.replace("{problems}", str(c.s.problems)).replace("{base}", str(c.s.base)) \
        .replace("{tuned}", str(c.s.tuned))


def _run_toml(name: str, changes: dict, needles, extra: str = "", setup=None):
    """A `run cfg.toml` case (``render_toml(changes)``; ``setup(ctx)`` first): the error line names
    the ``needles``, e.g. ``cfg.toml:LINE`` and ``[table] key`` (lines of GOOD_TOML as rendered:
    out 1, tasks 2, n 3, [decoding] 7-8, [base] 10-11, [tuned] 13-14, [analyze] 16-17; a key added
    to a table comes after its last line)."""
    def build(c: Ctx) -> list[str]:
        if setup:
            setup(c)
        return ["run", c.file("cfg.toml", render_toml(c, changes, extra))]
    case("run", name, needles)(build)


for _name, _changes, _needles in [
    ("trust-remote-code-string", {"base": {"trust_remote_code": '"false"'}},
     ("cfg.toml:12", "[base] trust_remote_code")),
    ("chat-string", {"tuned": {"chat": '"false"'}}, ("cfg.toml:15", "[tuned] chat")),
    ("n-bool", {"": {"n": "true"}}, ("cfg.toml:3", ": n ")),
    ("n-string", {"": {"n": '"four"'}}, ("cfg.toml:3", ": n ")),
    ("n-float", {"": {"n": "1e10"}}, ("cfg.toml:3", ": n ")),
    ("model-int", {"base": {"model": "42"}}, ("cfg.toml:11", "[base] model")),
    ("model-missing", {"tuned": {"model": None}}, ("cfg.toml", "[tuned]", "model")),
    ("model-megabyte-string", {"base": {"model": '"' + "m" * 1_000_000 + '"'}}, ("cfg.toml:11", "[base] model")),
    ("model-nul-byte", {"tuned": {"model": '"tu\\u0000ned"'}}, ("cfg.toml:14", "[tuned] model")),
    ("unknown-top-key", {"": {"temprature": "1"}}, ("cfg.toml:6", "temprature")),
    ("unknown-decoding-key", {"decoding": {"topp": "0.9"}}, ("cfg.toml:9", "topp")),
    ("out-int", {"": {"out": "42"}}, ("cfg.toml:1", "out")),
    ("out-nul-byte", {"": {"out": '"runs/\\u0000r"'}}, ("cfg.toml:1", "out")),
    ("temperature-string", {"decoding": {"temperature": '"hot"'}}, ("cfg.toml:9", "[decoding] temperature")),
    ("top-p-above-one", {"decoding": {"top_p": "2.0"}}, ("cfg.toml:9", "[decoding] top_p")),
    ("bootstrap-float", {"analyze": {"bootstrap": "1e13"}}, ("cfg.toml:17", "[analyze] bootstrap")),
    ("seed-too-big-for-int64", {"decoding": {"seed": "9223372036854775808"}}, ("cfg.toml:9", "[decoding] seed")),
    ("same-names", {"base": {"name": '"m"'}, "tuned": {"name": '"m"'}}, ("cfg.toml:12", "name")),
    ("decoding-not-a-table", {"": {"decoding": "3"}, "decoding": None}, ("cfg.toml:6", "decoding")),
    ("invalid-syntax", {}, ("cfg.toml:18:", "column")),  # the error is on the last line
    # a value that names a thing (a task spec, a path) may name itself instead of the file
    ("tasks-unknown-generator", {"": {"tasks": '"rg:nosuch"'}}, ("rg:nosuch",)),
    ("model-path-missing", {"base": {"model": '"no-such-model"'}}, ("no-such-model",)),
]:
    _run_toml(_name, _changes, _needles, extra="this is = = not toml\n" if _name == "invalid-syntax" else "")

_run_toml("out-is-a-file", {"": {"out": '"taken"'}}, ("taken", "out"), setup=lambda c: c.file("taken", "a file\n"))


@case("run", "config-binary", "cfg.toml")
def _(c):
    return ["run", c.file("cfg.toml", BINARY)]


# ---- report -------------------------------------------------------------------------------------


def _report(name: str, needles, prepare: Callable[[Ctx, Path], object]):
    def build(c: Ctx) -> list[str]:
        a = c.analysis()
        prepare(c, c.d / a)
        return ["report", a]
    case("report", name, needles)(build)


_report("summary-only-verdict", "summary.json",
        lambda c, a: (a / "summary.json").write_text(json.dumps({"verdict": {"label": "elicitation"}})))
_report("summary-not-json", "summary.json", lambda c, a: (a / "summary.json").write_bytes(BINARY))
_report("summary-older-version", "summary.json",
        lambda c, a: (a / "summary.json").write_text(json.dumps(
            {**json.loads((a / "summary.json").read_text()), "versions": {"supportscope": "0.0.1"}})))
_report("summary-edited-after-write", "analysis:",
        lambda c, a: (a / "summary.json").write_text(json.dumps(json.loads((a / "summary.json").read_text()))))
_report("per-problem-from-something-else", "per_problem.parquet",
        lambda c, a: (a / "per_problem.parquet").write_bytes(parquet_bytes({"x": [1, 2, 3], "y": ["a", "b", "c"]})))
_report("per-problem-truncated", "per_problem.parquet",
        lambda c, a: (a / "per_problem.parquet").write_bytes((a / "per_problem.parquet").read_bytes()[:300]))
_report("output-manifest-missing", "analysis:", lambda c, a: (a / ".supportscope-outputs.json").unlink())
_report("report-html-a-folder", "report.html",
        lambda c, a: ((a / "report.html").unlink(), (a / "report.html").mkdir()))


@case("report", "dir-missing", "noanalysis")
def _(c):
    return ["report", "noanalysis"]


@case("report", "per-problem-other-rows", "per_problem.parquet")
def _(c):
    import pyarrow.parquet as pq

    a = c.analysis()
    p = c.d / a / "per_problem.parquet"
    table = pq.read_table(p)
    pq.write_table(table.slice(0, 3), p)
    return ["report", a]


# ---- audit-data ---------------------------------------------------------------------------------


def audit_args(c: Ctx, data: str, *extra: str, model: str | None = None) -> list[str]:
    return ["audit-data", "--model", model or str(c.s.base), data, *extra]


@case("audit-data", "empty-completion", "empty.jsonl")
def _(c):
    return audit_args(c, c.file("empty.jsonl", '{"prompt": "1+1=", "completion": ""}\n'), "--out", "audit")


@case("audit-data", "binary-file", "binary.jsonl")
def _(c):
    return audit_args(c, c.file("binary.jsonl", BINARY), "--out", "audit")


@case("audit-data", "missing-completion", "nocomp.jsonl:2")
def _(c):
    return audit_args(c, c.file("nocomp.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": "a"}\n'),
                      "--out", "audit")


@case("audit-data", "not-json-line", "broken.jsonl:2")
def _(c):
    return audit_args(c, c.file("broken.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": \n'),
                      "--out", "audit")


@case("audit-data", "data-a-folder", "datadir.jsonl")
def _(c):
    return audit_args(c, c.folder("datadir.jsonl"), "--out", "audit")


@case("audit-data", "out-is-a-file", "taken")
def _(c):
    c.file("taken", "a file\n")
    return audit_args(c, c.file("sft.jsonl", '{"prompt": "1+1=", "completion": "2"}\n'), "--out", "taken")


@case("audit-data", "model-missing", "no-such-model")
def _(c):
    return audit_args(c, c.file("sft.jsonl", '{"prompt": "1+1=", "completion": "2"}\n'), "--out", "audit",
                      model="no-such-model")


@case("audit-data", "batch-size-zero", "--batch-size")
def _(c):
    return audit_args(c, c.file("sft.jsonl", '{"prompt": "1+1=", "completion": "2"}\n'), "--out", "audit",
                      "--batch-size", "0")


# ---- organism -----------------------------------------------------------------------------------

TINY_ORGANISM = {"--steps": "1", "--batch": "2", "--n-arith": "2", "--n-fact": "1", "--n-absent": "1",
                 "--repeats": "1", "--hidden-size": "8", "--layers": "1", "--heads": "2", "--kv-heads": "1",
                 "--intermediate-size": "8", "--log-every": "1", "--out": "org"}
"""A pretrain of a second: every organism case starts from it, so one that is wrongly accepted ends fast."""


def _organism(name: str, flags: dict[str, str], needles, setup=None):
    def build(c: Ctx) -> list[str]:
        if setup:
            setup(c)
        args = {**TINY_ORGANISM, **flags}
        return ["organism", "pretrain", *[x for kv in args.items() for x in kv]]
    case("organism", name, needles)(build)


for _name, _flags, _needles in [
    ("steps-negative", {"--steps": "-1"}, "--steps"),
    ("steps-word", {"--steps": "four"}, "--steps"),
    ("hidden-size-not-multiple-of-heads", {"--hidden-size": "10", "--heads": "3"}, "--hidden-size"),
    ("kv-heads-not-dividing", {"--heads": "4", "--hidden-size": "16", "--kv-heads": "3"}, "--kv-heads"),
    ("facts-too-many", {"--n-fact": "600", "--n-absent": "600"}, "--n-absent"),
    ("lr-nan", {"--lr": "nan"}, "--lr"),
    ("model-too-big", {"--hidden-size": "8192", "--layers": "256", "--heads": "64"}, "--hidden-size"),
]:
    _organism(_name, _flags, _needles)

_organism("out-is-a-file", {"--out": "taken"}, "taken", setup=lambda c: c.file("taken", "a file\n"))
_organism("out-under-a-file", {"--out": "taken/org"}, "taken", setup=lambda c: c.file("taken", "a file\n"))


# -- known bugs ----------------------------------------------------------------------------------
# Cases that fail today because of a bug in supportscope (not in the case): kept, and marked
# xfail(strict=True) by tests/test_hostile.py, so the entry must go once the bug is fixed.

KNOWN_BUGS: dict[str, str] = {}  # none open
_unknown = set(KNOWN_BUGS) - {c.id for c in CASES}
assert not _unknown, f"KNOWN_BUGS names no case: {sorted(_unknown)}"
CASES = [replace(c, xfail=KNOWN_BUGS.get(c.id)) for c in CASES]


def by_id() -> dict[str, Case]:
    ids = [c.id for c in CASES]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate case ids: {sorted(dupes)}"
    return {c.id: c for c in CASES}
