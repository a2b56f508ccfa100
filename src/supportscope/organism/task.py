"""The organism as a :class:`~supportscope.tasks.base.Task` (spec prefix ``organism:``).

Specs: ``organism:`` or ``organism:default`` (the packaged checkpoint ``organism/checkpoint``), or
``organism:PATH`` (a directory written by ``pretrain``), optionally followed by
``?size=N&seed=S&families=add,mul&limit=L``. The problems are the checkpoint corpus config's
problems (``corpus_config.json``); ``families`` keeps some families (default all, in FAMILIES
order); ``size`` keeps at most N problems per family, drawn with ``seed`` (default: all of them, in
order); ``limit`` (or ``load_task``'s ``limit``, i.e. ``sample --limit``; the smaller wins) keeps at
most L problems in all, drawn with ``seed`` from those and kept in their order, as every task
source honours ``limit``. The canonical spec names ``limit`` only when it removed problems.

The verifier is exactly the event that exact.py computes: reward 1 iff the completion's graded
answer equals one of the correct answer strings: the completion with one trailing end token
``</s>`` removed if present (a backend that decodes with ``skip_special_tokens=True`` has already
removed it) and, when an environment replied (``<...>``), only the text after the last reply
(``envs.final_answer``; ``exact_env`` grades episodes the same way). No other normalisation (no
whitespace stripping), so exact p and sampled success agree by construction. No torch here.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..tasks.base import Problem, TaskSpecError, json_safe
from ..tasks.spec import parse_value, split_spec
from .corpus import CorpusConfig
from .envs.base import final_answer
from .families import FAMILIES, OrganismProblem

CHECKPOINT = Path(__file__).resolve().parent / "checkpoint"
#: The distillation teacher: pretrained like CHECKPOINT on a corpus where ``sub`` is always answered correctly.
TEACHER = Path(__file__).resolve().parent / "teacher"


def resolve_checkpoint(path: str | Path | None) -> Path:
    if path is None or str(path) in ("", "default"):
        return CHECKPOINT
    return Path(path)


def to_problem(p: OrganismProblem) -> Problem:
    return Problem(p.id, p.prompt, p.answers[0],
                   meta={"answers": list(p.answers), "family": p.family, "wrong": p.wrong})


class OrganismTask:
    """Problems of an organism checkpoint's corpus config; verify = exact string match."""

    def __init__(self, checkpoint: str | Path | None = None, *, size: int | None = None, seed: int = 0,
                 families: tuple[str, ...] | None = None, corpus: CorpusConfig | None = None,
                 limit: int | None = None) -> None:
        self.checkpoint_arg = "default" if checkpoint in (None, "", "default") else str(checkpoint)
        self.checkpoint = resolve_checkpoint(checkpoint)
        self.corpus = corpus if corpus is not None else CorpusConfig.load(self.checkpoint / "corpus_config.json")
        self.families = tuple(families) if families else FAMILIES
        self.size, self.seed = size, seed
        self._org = self._select()
        if limit is not None and limit < len(self._org):
            keep = sorted(random.Random(f"organism-task:{seed}:limit").sample(range(len(self._org)), limit))
            self._org = [self._org[i] for i in keep]
        else:
            limit = None  # nothing removed: the spec stays that of the selection
        self.limit = limit
        self.name = f"organism-{self.checkpoint.name}" if self.checkpoint_arg != "default" else "organism"
        q = [f"seed={seed}"]
        if size is not None:
            q.insert(0, f"size={size}")
        if families:
            q.append("families=" + ",".join(self.families))
        if limit is not None:
            q.append(f"limit={limit}")
        self.spec = f"organism:{self.checkpoint_arg}?" + "&".join(q)
        self._by_id = {p.id: p for p in self._org}

    def _select(self) -> list[OrganismProblem]:
        out = []
        allp = self.corpus.problems()
        for fam in self.families:
            ps = [p for p in allp if p.family == fam]
            if self.size is not None and self.size < len(ps):
                keep = sorted(random.Random(f"organism-task:{self.seed}:{fam}").sample(range(len(ps)), self.size))
                ps = [ps[i] for i in keep]
            out += ps
        return out

    def organism_problems(self) -> list[OrganismProblem]:
        return list(self._org)

    def problems(self) -> list[Problem]:
        return [to_problem(p) for p in self._org]

    def verify(self, problem: Problem, completion: str) -> float:
        answers = problem.meta.get("answers")
        if answers is None:
            org = self._by_id.get(problem.id)
            answers = list(org.answers) if org is not None else [problem.answer]
        return 1.0 if final_answer(completion) in answers else 0.0

    def describe(self) -> dict:
        return {"kind": "organism", "spec": self.spec, "name": self.name, "checkpoint": str(self.checkpoint),
                "size": len(self._org), "seed": self.seed, "families": list(self.families),
                "corpus_config": json_safe(self.corpus.to_dict()),
                "verifier": "completion (one trailing </s> removed; after the last environment reply '>' if any) equals a correct answer string exactly"}


def organism_factory(rest: str, *, limit: int | None = None, seed: int = 0) -> OrganismTask:
    spec = "organism:" + rest
    head, pairs = split_spec(spec, rest)
    opts = {k: parse_value(v) for k, v in pairs}
    unknown = sorted(set(opts) - {"size", "seed", "families", "limit"})
    if unknown:
        raise TaskSpecError(spec, f"unknown option(s) {', '.join(unknown)}",
                            "use size=N, seed=S, families=add,mul, limit=L")
    size = opts.get("size")
    cap = opts.get("limit", limit)
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise TaskSpecError(spec, f"limit must be a whole number >= 1, got {cap!r}", "e.g. limit=8")
    if limit is not None and cap is not None:
        cap = min(cap, limit)
    s = opts.get("seed", seed)
    fams = opts.get("families")
    if isinstance(fams, str):
        fams = tuple(f for f in fams.split(",") if f)
    elif fams is not None:
        fams = tuple(str(f) for f in (fams if isinstance(fams, (list, tuple)) else [fams]))
    if fams and set(fams) - set(FAMILIES):
        raise TaskSpecError(spec, f"unknown families {sorted(set(fams) - set(FAMILIES))}",
                            f"choose from {', '.join(FAMILIES)}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise TaskSpecError(spec, f"size must be a whole number >= 1, got {size!r}", "e.g. size=8")
    if isinstance(s, bool) or not isinstance(s, int) or s < 0:
        raise TaskSpecError(spec, f"seed must be a whole number >= 0, got {s!r}", "e.g. seed=0")
    ck = resolve_checkpoint(head.strip() or None)
    if not (ck / "corpus_config.json").is_file():
        raise TaskSpecError(spec, f"no organism checkpoint at {ck} (corpus_config.json missing)",
                            "give organism:default or a directory written by supportscope.organism.pretrain")
    return OrganismTask(head.strip() or None, size=size, seed=s, families=fams, limit=cap)


__all__ = ["CHECKPOINT", "TEACHER", "OrganismTask", "organism_factory", "resolve_checkpoint", "to_problem"]
