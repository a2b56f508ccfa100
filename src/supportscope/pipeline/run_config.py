"""The run-config workflow (`supportscope run CONFIG.toml`): sample base and tuned, cross-score, analyse.

CONFIG.toml (every table maps onto a config dataclass; unknown keys are errors; every value is
checked against its field's type and bounds before anything is loaded or written: ``chat = "false"``
is refused, not truthy, and so are ``n = 1e10`` and ``n = true``, in one line naming the key, its
line and the type expected; see supportscope.config_checks):

    out = "runs/my-run"           # run directory (samples, scores) + out/analysis (results)
    tasks = "rg:chain_sum"        # SampleJobConfig: tasks, limit, task_seed, n, batch_size, ...
    limit = 50
    n = 16
    kl = true                     # exact full-vocabulary KL while scoring (same prompt format needed)

    [decoding]                    # DecodingConfig: temperature, top_p, top_k, min_p, max_new_tokens, stop, seed
    temperature = 1.0
    top_p = 0.95
    max_new_tokens = 128

    [base]                        # Policy: model, name, dtype, device, chat, trust_remote_code, env
    model = "path/to/base"
    [tuned]
    model = "path/to/tuned"

    # or several tuned models (checkpoints of one run, or methods), analysed in one report
    # (analysis.many): each a Policy plus an optional training step; name defaults to step-STEP
    # [[tuned]]
    # model = "ckpt/step-150"
    # step = 150
    # [[tuned]]
    # model = "ckpt/step-450"
    # step = 450

    [analyze]                     # AnalyzeConfig: budget, basin_budget, zeta, alpha, bootstrap, seed, ...
    bootstrap = 10000

    [adaptive]                    # AdaptiveConfig (optional): sample in rounds until each regime is decided
    adaptive = true
    budget = 64
    max_n = 1024
    round = 16

    [engine]                      # EngineConfig (optional): max_batch_tokens, decode (HF backend speed only)
    max_batch_tokens = 262144

Scale-out over Ray (RayConfig, top-level keys): ``ray = true`` (a local cluster for this command),
``ray = "auto"`` (the cluster `ray start` runs on this machine) or ``ray = "HOST:PORT"``, and
``ray_workers = 8`` (default: the cluster's GPUs when the models run on GPU, else 2).
"""

from __future__ import annotations

import re
import tomllib
from contextlib import ExitStack
from dataclasses import fields, replace
from pathlib import Path

from rich.console import Console

from supportscope.analysis import AnalyzeConfig, model_counts
from supportscope.analysis.config import check_bootstrap_memory
from supportscope.config_checks import MAX_STR, check_values, short
from supportscope.models.config import DecodingConfig, EngineConfig, Policy
from supportscope.models.loading import check_model_path
from supportscope.pipeline.outputs import ANALYSIS_FILES, check_out_dir
from supportscope.errors import ConfigError, InputError
from supportscope.io.files import regular_file
from supportscope.store import RunStore, counts_from_samples
from supportscope.tasks import load_task
from supportscope.scale.adaptive import AdaptiveConfig
from supportscope.scale.config import SampleJobConfig
from supportscope.pipeline.analyse import analyse_and_write, sha256_file
from supportscope.pipeline.analyse_many import MANY_FILES, analyse_many_and_write
from supportscope.pipeline.sample import run_sample, run_score
from supportscope.scale.ray_exec import RayConfig

__all__ = ["load_run_config", "run_from_config"]

_RAY = {f.name for f in fields(RayConfig)}
_TOP = {"out", "kl"} | {f.name for f in fields(SampleJobConfig)} | _RAY
_TABLES = {"decoding": DecodingConfig, "base": Policy, "tuned": Policy, "analyze": AnalyzeConfig,
           "adaptive": AdaptiveConfig, "engine": EngineConfig}


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    """The 1-based line of ``key`` (or of the header ``[key]``); with ``table``, the first line of
    ``key`` inside ``[table]`` ("" = the top level, before any table)."""
    current = ""
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("["):
            current = s.split("]", 1)[0].strip("[ ")
        if table is not None and (current != table or s.startswith("[")):
            continue
        if s.startswith((key + " ", key + "=", f"[{key}]")):
            return i
    return None


def _config_error(e: ConfigError, path: Path, text: str, table: str | None) -> InputError:
    """``e`` (raised while building or checking the config of ``[table]``, None = top-level keys) as
    an InputError at the line of the first key it names, each key spelled as in the file."""
    named: list[str] = []

    def spell(name: str) -> str:
        named.append(name)
        return f"[{table}] {name}" if table else name

    what, _, fix = e.spelled(spell).partition(". Fix: ")
    lines = [_line_of(text, k, table or "") for k in named]
    line = next((n for n in lines if n is not None), _line_of(text, table) if table else None)
    return InputError(str(path), what, fix or "see `supportscope run --help`", line=line)


def _checked(cls, values: dict, path: Path, text: str, table: str | None) -> dict:
    """``values`` (one table of the file), every key a field of ``cls`` and every value of its type
    and within its bounds (config_checks), before any of them is used."""
    names = {f.name for f in fields(cls)}
    for k in values:
        if k not in names:
            raise InputError(str(path), f"unknown key {k!r}" + (f" in [{table}]" if table else ""),
                             f"use one of: {', '.join(sorted(names))}", line=_line_of(text, k, table or ""))
    try:
        check_values(cls, values)
    except ConfigError as e:
        raise _config_error(e, path, text, table) from None
    return values


def _build(cls, values: dict, path: Path, text: str, table: str | None):
    _checked(cls, values, path, text, table)
    try:
        return cls(**values)  # checks the values (each config's __post_init__)
    except ConfigError as e:
        raise _config_error(e, path, text, table) from None


def _top_level(data: dict, path: Path, text: str) -> None:
    """``out`` is a path, ``kl`` true or false (a non-empty string would be truthy)."""
    out, kl = data["out"], data.get("kl", False)
    if not isinstance(out, str) or not out or len(out) > MAX_STR or "\x00" in out:
        raise InputError(str(path), f"out expects a folder path (a non-empty string of at most {MAX_STR} characters, without NUL"
                         f"), got {short(out)}", 'write e.g. out = "runs/my-run"', line=_line_of(text, "out"))
    if not isinstance(kl, bool):
        raise InputError(str(path), f"kl expects true or false, got {short(kl)}",
                         "write kl = true or kl = false, without quotes", line=_line_of(text, "kl"))


def load_run_config(path: Path) -> dict:
    """Parse and check CONFIG.toml; returns the config objects."""
    regular_file(path, "pass a TOML file (see `supportscope run --help`)", what="config file")  # never a FIFO
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        at = re.search(r"\(at line (\d+), column (\d+)\)", str(e))  # Python 3.11's error has no lineno
        line = getattr(e, "lineno", None) or (int(at.group(1)) if at else None)
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e)) if line else str(e)
        where = f" at column {at.group(2)}" if at else ""
        raise InputError(str(path), f"not valid TOML{where} ({what})", "fix the syntax at that line", line=line) from None
    for k, v in data.items():
        if k not in _TOP and k not in _TABLES:
            raise InputError(str(path), f"unknown key {k!r}",
                             f"use {', '.join(sorted(_TOP))} or the tables [{'], ['.join(_TABLES)}]",
                             line=_line_of(text, k))
        if k == "tuned" and isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            continue  # [[tuned]]: several tuned models
        if k in _TABLES and not isinstance(v, dict):
            raise InputError(str(path), f"{k!r} must be a table", f"write it as [{k}]", line=_line_of(text, k))
    tuned_tables = data.get("tuned") if isinstance(data.get("tuned"), list) else [data.get("tuned", {})]
    for role, table in [("base", data.get("base", {}))] + [("tuned", t) for t in tuned_tables]:
        if "model" not in table:
            raise InputError(str(path), f"[{role}] needs a model", f'add [{role}] model = "path/to/model"')
    if "out" not in data:
        raise InputError(str(path), "no out folder", 'add out = "runs/NAME"')
    _top_level(data, path, text)
    job_values = _checked(SampleJobConfig, {k: v for k, v in data.items() if k in _TOP - {"out", "kl"} - _RAY},
                          path, text, None)
    if isinstance(job_values.get("tasks"), str):  # a problems file is relative to the config file
        file_part, sep, query = job_values["tasks"].partition("?")
        if not Path(file_part).is_absolute() and (path.parent / file_part).is_file():
            job_values["tasks"] = str((path.parent / file_part).resolve()) + sep + query
    job = _build(SampleJobConfig, job_values, path, text, None)
    cfg = {
        "out": (path.parent / data["out"]) if not Path(data["out"]).is_absolute() else Path(data["out"]),
        "kl": data.get("kl", False),
        "job": job,
        "decoding": _build(DecodingConfig, data.get("decoding", {}), path, text, "decoding"),
        "analyze": _build(AnalyzeConfig, data.get("analyze", {}), path, text, "analyze"),
        "adaptive": _build(AdaptiveConfig, data.get("adaptive", {}), path, text, "adaptive"),
        "engine": _build(EngineConfig, data.get("engine", {}), path, text, "engine"),
        "ray": _ray_config(data, path, text),
    }
    cfg["base"] = _policy(dict(data["base"]), "base", path, text)
    several = isinstance(data["tuned"], list)
    cfg["tuned_all"], cfg["steps"] = [], {}
    for i, table in enumerate(tuned_tables):
        table = dict(table)
        step = table.pop("step", None)
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise InputError(str(path), f"[[tuned]] step = {short(step)} is not a whole number >= 0",
                             "write e.g. step = 450", line=_line_of(text, "step", "tuned"))
        default = "tuned" if not several else (f"step-{step}" if step is not None else f"tuned-{i + 1}")
        pol = _policy(table, "tuned", path, text, default)
        cfg["tuned_all"].append(pol)
        if step is not None:
            cfg["steps"][pol.name] = step
    cfg["tuned"] = cfg["tuned_all"][0]
    names = [cfg["base"].name] + [t.name for t in cfg["tuned_all"]]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise InputError(str(path), f"two models are named {dup!r}" if dup != cfg["base"].name
                         else f"base and tuned are both named {dup!r}",
                         "give them different names", line=_line_of(text, "name"))
    try:
        job.require()  # every config's values were checked when it was built; tasks must be set
    except ConfigError as e:
        raise _config_error(e, path, text, None) from None
    _check_memory(cfg, path, text)
    return cfg


def _policy(d: dict, role: str, path: Path, text: str, default_name: str | None = None) -> Policy:
    """One [base] / [tuned] / [[tuned]] table as a Policy; a relative model path is relative to the file."""
    d = _checked(Policy, d, path, text, role)  # model is a string before it is a path
    d.setdefault("name", default_name or role)
    if not Path(d["model"]).is_absolute():
        d["model"] = str((path.parent / d["model"]).resolve())
    return _build(Policy, d, path, text, role)


def _check_memory(cfg: dict, path: Path, text: str) -> None:
    """Refuse, before anything is sampled, an analysis whose bootstrap would not fit in memory (at most
    ``limit`` problems, n = ``n``, or up to ``max_n`` when adaptive)."""
    n = cfg["adaptive"].max_n if cfg["adaptive"].adaptive else cfg["job"].n
    try:
        check_bootstrap_memory(cfg["analyze"].bootstrap, cfg["job"].limit, n)
    except ConfigError as e:
        raise _config_error(e, path, text, "analyze") from None


def _ray_config(data: dict, path: Path, text: str) -> RayConfig:
    """ray = true | "auto" | "HOST:PORT" (an address turns Ray on), ray_address, ray_workers."""
    values = {k: data[k] for k in _RAY if k in data}
    ray = values.get("ray", False)
    if isinstance(ray, str):
        if "ray_address" in values:
            raise InputError(str(path), "ray is an address and ray_address is set too", "keep one of them",
                             line=_line_of(text, "ray_address"))
        values["ray"], values["ray_address"] = True, ray
    elif not isinstance(ray, bool):
        raise InputError(str(path), f"ray = {ray!r} is neither true/false nor an address",
                         'write ray = true (a local cluster), ray = "auto" or ray = "HOST:PORT"',
                         line=_line_of(text, "ray"))
    workers = values.get("ray_workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise InputError(str(path), f"ray_workers = {workers!r} is not a whole number", "write e.g. ray_workers = 8",
                         line=_line_of(text, "ray_workers"))
    try:
        return RayConfig(**values)
    except ConfigError as e:
        raise _config_error(e, path, text, None) from None


def run_from_config(config: Path) -> dict:
    """Sample base and tuned, score each model's samples under the other, and analyse into
    OUT/analysis, as CONFIG.toml says (resumable: a rerun continues where it stopped). Returns the
    analysis summary."""
    cfg = load_run_config(config)
    out, job, ray = cfg["out"], cfg["job"], cfg["ray"]
    check_out_dir(out, flag="out")  # a file, under a file, or read-only: refused before any sampling
    tuned_all = cfg["tuned_all"]
    check_out_dir(out / "analysis", ANALYSIS_FILES if len(tuned_all) == 1 else MANY_FILES, flag="out")
    for pol in (cfg["base"], *tuned_all):  # every model and the tasks, before anything is sampled or printed
        check_model_path(pol.model)
    load_task(job.tasks, limit=job.limit, seed=job.task_seed)
    con = Console(stderr=True)
    b = cfg["base"]
    with ExitStack() as stack:
        if ray.ray:  # one Ray session for every job (each starts and stops its own workers)
            from supportscope.scale.ray_exec import ray_session

            stack.enter_context(ray_session(ray))
        for role, pol in [("base", b)] + [("tuned", t) for t in tuned_all]:
            con.print(f"[bold]{role}[/bold] {pol.name}: {pol.model}")
            run_sample(pol, cfg["decoding"], job, out, cfg["adaptive"], ray, cfg["engine"])
        for t in tuned_all:
            same_prompts = b.chat == t.chat
            if cfg["kl"] and not same_prompts:
                con.print(f"[yellow]note:[/yellow] kl = true needs both models to use the same prompt format "
                          f"(chat); scoring {t.name} without the exact KL")
            run_score(out, b, job.batch_size, cfg["kl"] and same_prompts, [t.name], ray, cfg["engine"])
            run_score(out, t, job.batch_size, False, [b.name], ray, cfg["engine"])
    store = RunStore(out)
    table = counts_from_samples(store)
    srcs = [str(out)]
    extra = {"run_config": {"job": job.to_dict(), "decoding": cfg["decoding"].to_dict(), "base": b.to_dict(),
                            "tuned": [t.to_dict() for t in tuned_all] if len(tuned_all) > 1 else tuned_all[0].to_dict(),
                            "kl": cfg["kl"],
                            "adaptive": cfg["adaptive"].to_dict() if cfg["adaptive"].adaptive else None}}
    base_counts = model_counts(table, b.name, srcs)
    if len(tuned_all) == 1:
        return analyse_and_write(base_counts, model_counts(table, tuned_all[0].name, srcs), cfg["analyze"],
                                 out / "analysis", [config], run=store, extra=extra)
    steps = [f"{n}={s}" for n, s in cfg["steps"].items()]
    acfg = replace(cfg["analyze"], step=[*(cfg["analyze"].step or []), *steps] or None)
    return analyse_many_and_write(base_counts, [model_counts(table, t.name, srcs) for t in tuned_all], acfg,
                                  out / "analysis", [config], run=store, extra=extra,
                                  input_hashes=[{"path": str(config), "sha256": sha256_file(config)}])
