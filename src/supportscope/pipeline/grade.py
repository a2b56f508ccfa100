"""``supportscope grade``: raw generations in, per-sample verdicts out, readable by ``analyze``.

>>> table = grade("generations.jsonl", "problems.jsonl", "graded.parquet")        # doctest: +SKIP

Each sample ``{problem_id, model, sample_idx, completion}`` (:mod:`.generations`) is scored against
its problem's gold answer (a problems JSONL ``{id, prompt, answer}``, read by
:func:`supportscope.tasks.jsonl.read_problems`) by a primary verifier (``correct``) and a second one
(:mod:`supportscope.tasks.answers`); ``disagree`` marks the samples they score differently.
The output rows are ``problem_id, model, sample_idx, answer`` (the final answer the strict rule or
the regex finds), ``correct_<verifier>`` for each verifier (0/1), ``correct`` (the primary's),
``disagree``, ``reference`` (the problem's gold answer) and ``prompt_hash`` (SHA-256 of the prompt:
the generation's own ``prompt`` when the generations file has one, the text actually sent, else
the problems file's): a per-sample file for ``supportscope analyze`` (it reads problem_id, model,
sample_idx and correct; its provenance check compares the base and tuned files' prompt hashes and
references, and the answer statistics use the references), and the input of
:func:`supportscope.analysis.verifier_agreement.verifier_agreement`.

Everything that can be refused is refused before grading starts (the options, the files, every
row, every problem id, the output path), and the output is written as one file atomically
(:func:`supportscope.atomic.write_set`). math-verify and the regexes only parse; they run under
:func:`supportscope.tasks.eval_guard.guarded` all the same, so no model output is ever evaluated as
code. Only ``code`` (with ``allow_exec``) runs it, in a limited subprocess
(:mod:`supportscope.tasks.code_exec`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from supportscope.atomic import write_set
from supportscope.config_checks import check_fields
from supportscope.errors import ConfigError, InputError
from supportscope.pipeline.generations import Generation, read_generations
from supportscope.pipeline.outputs import check_out_dir
from supportscope.tasks.answers import (
    column_name,
    make_verifier,
    parse_verifier,
    second_verifier,
)
from supportscope.tasks.eval_guard import guarded
from supportscope.tasks.jsonl import read_problems

__all__ = ["OUT_SUFFIXES", "GradeConfig", "grade", "grade_rows", "summary_lines"]

#: Output formats by extension of --out.
OUT_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl"}
#: Samples from which a progress bar is shown.
PROGRESS_FROM = 200


@dataclass
class GradeConfig:
    """How ``grade`` scores generations. Checked at construction; a bad value raises ConfigError
    naming the field (the CLI spells it as the flag)."""

    verifier: str = field(
        default="math",
        metadata={"help": "Primary verifier, whose decision is `correct`: math (math-verify), exact (strict "
                  "final-answer match after normalisation), regex:PATTERN (the pattern's last match, its first "
                  "group if any, is the answer) or code (runs the program against the gold tests; needs "
                  "--allow-exec).", "max_len": 1000})
    second_verifier: str = field(
        default="auto",
        metadata={"help": "Second verifier, for the `disagree` column: auto (exact for math, math for exact and "
                  "regex, none for code), none, or a verifier as for --verifier.", "max_len": 1000})
    model: str | None = field(
        default=None,
        metadata={"help": "Model name for the rows of a file without a `model` column.", "max_len": 200})
    allow_exec: bool = field(
        default=False,
        metadata={"help": "Allow the code verifier, which EXECUTES model output (in a subprocess with a time "
                  "and memory limit; not a sandbox)."})
    code_timeout: float = field(
        default=10.0, metadata={"help": "Seconds each program of the code verifier may run.", "min": 0.1,
                                "max": 3600})
    code_memory_mb: int = field(
        default=1024, metadata={"help": "Address-space limit of each program of the code verifier, in MiB.",
                                "min": 64, "max": 2**20})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_fields(self)
        name = parse_verifier(self.verifier, "verifier")[0]
        second = second_verifier(self.verifier, self.second_verifier)
        second_name = None if second is None else parse_verifier(second, "second_verifier")[0]
        if "code" in (name, second_name) and not self.allow_exec:
            which = "verifier" if name == "code" else "second_verifier"
            raise ConfigError(f"`{which}` code runs the model's output as a program. Fix: add `allow_exec` if "
                              "you accept that (it runs in a subprocess with a time and memory limit)")
        if second_name == name:
            raise ConfigError(f"`second_verifier` {second!r} is of the same kind as the primary verifier "
                              f"{self.verifier!r}. Fix: choose another kind (math, exact, regex:PATTERN, code), "
                              "or none")
        if self.model is not None and not self.model.strip():
            raise ConfigError("`model` is empty. Fix: give a model name, e.g. `model` base")

    def verifiers(self) -> list[str]:
        """The verifier specs, primary first."""
        second = second_verifier(self.verifier, self.second_verifier)
        return [self.verifier] + ([second] if second is not None else [])

    def executes(self) -> bool:
        """Whether a verifier of this config runs model output (``code``)."""
        return any(parse_verifier(s)[0] == "code" for s in self.verifiers())

    def to_dict(self) -> dict:
        return asdict(self)


def _out_format(out: Path, inputs: list[str]) -> str:
    fmt = OUT_SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        raise InputError(str(out), f"unknown output extension {out.suffix or '(none)'!r}",
                         "end --out in .parquet, .csv or .jsonl (the extension picks the format)")
    if out.is_dir():
        raise InputError(str(out), "is a folder", "give --out a file name, e.g. graded.parquet")
    above = out.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise InputError(str(out), f"{above} is a file, so no file can be written under it",
                         "give --out a path inside a folder, e.g. graded.parquet")
    check_out_dir(out.parent, (out.name,))
    for p in inputs:
        if os.path.exists(out) and os.path.exists(p) and os.path.samefile(out, p):
            raise InputError(str(out), f"is the input file {p}", "write the graded rows to another file")
    return fmt


def _lookup(gens: list[Generation], answers: dict[str, str], problems_path: str) -> list[int]:
    """Refuse unknown problem ids and repeated samples; number samples without ``sample_idx``."""
    seen: dict[tuple[str, str, int], Generation] = {}
    next_idx: dict[tuple[str, str], int] = {}
    idx = []
    for g in gens:
        if g.problem_id not in answers:
            raise g.error(f"problem_id {g.problem_id!r} is not in {problems_path}",
                          "grade with the problems file the generations were sampled from")
        i = g.sample_idx if g.sample_idx is not None else next_idx.get((g.problem_id, g.model), 0)
        next_idx[(g.problem_id, g.model)] = max(next_idx.get((g.problem_id, g.model), 0), i + 1)
        key = (g.problem_id, g.model, i)
        if key in seen:
            raise g.error(f"sample_idx {i} of problem_id {g.problem_id!r} with model {g.model!r} appears twice "
                          f"(first at {seen[key].where})", "give each sample of a problem and model its own sample_idx")
        seen[key] = g
        idx.append(i)
    return idx


def grade_rows(gens: list[Generation], answers: dict[str, str], config: GradeConfig,
               sample_idx: list[int], progress=None, prompts: dict[str, str] | None = None) -> pa.Table:
    """The graded table of ``gens`` (see the module docstring); ``progress(k)`` is called as samples
    are done; ``prompts``: problem_id -> the problems file's prompt (hashed where a generation has none)."""
    specs = config.verifiers()
    verifiers = [make_verifier(s, allow_exec=config.allow_exec, timeout_s=config.code_timeout,
                               memory_mb=config.code_memory_mb) for s in specs]
    decisions: list[list[int]] = [[] for _ in verifiers]
    extracted: list[str | None] = []
    with guarded():
        for k, g in enumerate(gens):
            gold = answers[g.problem_id]
            for v, out in zip(verifiers, decisions):
                out.append(v.check(g.problem_id, gold, g.completion))
            extracted.append(verifiers[0].extract(g.completion))
            if progress is not None and (k + 1) % 50 == 0:
                progress(50)
    if progress is not None and len(gens) % 50:
        progress(len(gens) % 50)
    cols = {
        "problem_id": pa.array([g.problem_id for g in gens], pa.string()),
        "model": pa.array([g.model for g in gens], pa.string()),
        "sample_idx": pa.array(sample_idx, pa.int64()),
        "answer": pa.array(extracted, pa.string()),
    }
    for spec, dec in zip(specs, decisions):
        cols[column_name(spec)] = pa.array(dec, pa.int64())
    cols["correct"] = pa.array(decisions[0], pa.int64())
    disagree = [len(set(d)) > 1 for d in zip(*decisions)] if len(decisions) > 1 else [False] * len(gens)
    cols["disagree"] = pa.array(disagree, pa.bool_())
    cols["reference"] = pa.array([answers[g.problem_id] for g in gens], pa.string())
    texts = [g.prompt if g.prompt is not None else (prompts or {}).get(g.problem_id) for g in gens]
    hashes = {t: hashlib.sha256(t.encode("utf-8")).hexdigest() for t in set(texts) if t is not None}
    cols["prompt_hash"] = pa.array([hashes.get(t) for t in texts], pa.string())
    return pa.table(cols)


def _bytes(table: pa.Table, fmt: str) -> bytes:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return sink.getvalue().to_pybytes()
    if fmt == "csv":
        import pyarrow.csv as pcsv

        sink = pa.BufferOutputStream()
        pcsv.write_csv(table, sink)
        return sink.getvalue().to_pybytes()
    buf = io.StringIO()
    for row in table.to_pylist():
        buf.write(json.dumps(row, ensure_ascii=False) + "\n")
    return buf.getvalue().encode("utf-8")


def grade(generations: str | os.PathLike[str], problems: str | os.PathLike[str], out: str | os.PathLike[str],
          config: GradeConfig | None = None, progress_bar=None) -> pa.Table:
    """Grade ``generations`` against ``problems`` and write the rows to ``out``; returns the table.

    ``progress_bar(description, total)``: a context manager yielding ``advance(k)``
    (:func:`supportscope.pipeline.progress.progress_bar`), used from :data:`PROGRESS_FROM` samples on.
    """
    cfg = config or GradeConfig()
    out = Path(out)
    fmt = _out_format(out, [os.fspath(generations), os.fspath(problems)])
    probs, _ = read_problems(problems)
    answers = {p.id: p.answer for p in probs}
    prompts = {p.id: p.prompt for p in probs}
    gens = read_generations(generations, cfg.model)
    idx = _lookup(gens, answers, os.fspath(problems))
    if progress_bar is not None and len(gens) >= PROGRESS_FROM:
        with progress_bar("grading", len(gens)) as advance:
            table = grade_rows(gens, answers, cfg, idx, advance, prompts)
    else:
        table = grade_rows(gens, answers, cfg, idx, prompts=prompts)
    write_set(out.parent if str(out.parent) else Path("."), {out.name: _bytes(table, fmt)}, manifest=None)
    return table


def summary_lines(table: pa.Table, config: GradeConfig) -> list[str]:
    """One line per model: samples, problems, successes under each verifier, disagreements."""
    specs = config.verifiers()
    rows = table.select(["model", "problem_id", "disagree"] + [column_name(s) for s in specs]).to_pylist()
    lines = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        rates = ", ".join(f"{column_name(s)[8:]} {sum(r[column_name(s)] for r in mine)}" for s in specs)
        dis = [r for r in mine if r["disagree"]]
        lines.append(f"{model}: {len(mine)} samples of {len({r['problem_id'] for r in mine})} problems; "
                     f"correct: {rates}" + (f"; verifiers disagree on {len(dis)} samples in "
                                            f"{len({r['problem_id'] for r in dis})} problems" if len(specs) > 1 else ""))
    return lines
