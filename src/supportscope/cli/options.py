"""Build typer options from config dataclasses, so the CLI and the configs never drift apart.

`with_config_options(Config)` (or `with_config_options(decoding=DecodingConfig, policy=Policy)`)
turns every dataclass field into a keyword option (`--field-name`, default and help text from
the field) appended to the command's own parameters; the command receives each config bundled
as one keyword argument (`config` for the positional form, else the given names).

Each config is checked as it is built (its `__post_init__` validates), and a config with a
`require()` (a field without a usable default, e.g. `Policy.model`) is required to be complete: a
command that takes the config needs it. A ConfigError from either names fields in backticks; it is
raised again with each field spelled as this command's flag (`top_p` -> `--top-p`, `model` ->
`--scorer` where renamed), so the user reads the option to change.
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import MISSING, fields

import typer

from supportscope.config_checks import bounds_text
from supportscope.errors import ConfigError


def with_config_options(*positional, flags: dict[str, str] | None = None, **named):
    """`flags` renames options, e.g. {"model": "--scorer"} or {"corpus.seed": "--corpus-seed"} (the
    config field keeps its name). A field name used by two groups gets the parameter name
    GROUP_FIELD (option --GROUP-FIELD) in the second."""
    flags = flags or {}
    groups = dict(named)
    if positional:
        (groups["config"],) = positional

    def decorate(func):
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name not in groups]
        extra, owner = [], {}  # owner: parameter name -> (group argument, field name)
        spelling: dict[str, dict[str, str]] = {arg: {} for arg in groups}  # group -> field -> its flag
        for arg, cls in groups.items():
            hints = typing.get_type_hints(cls)
            for f in fields(cls):
                pname = f.name if f.name not in owner else f"{arg}_{f.name}"
                if pname in owner or pname in sig.parameters:
                    raise TypeError(f"option --{pname} defined twice ({cls.__name__})")
                owner[pname] = (arg, f.name)
                default = f.default if f.default is not MISSING else f.default_factory()
                if isinstance(default, list) and not default:
                    default = None  # typer: an empty repeated option
                flag = flags.get(f"{arg}.{f.name}") or flags.get(f.name) or f"--{pname.replace('_', '-')}"
                if hints[f.name] is bool and "/" not in flag:  # a switch on by default must be able to go off
                    flag = f"{flag}/--no-{flag[2:]}"
                spelling[arg][f.name] = flag.split("/")[0]  # "--anytime/--no-anytime" -> "--anytime"
                help_text = " ".join(filter(None, (f.metadata.get("help", ""), bounds_text(f.metadata))))
                opt = typer.Option(default, flag, help=help_text, show_default=default is not None)
                extra.append(inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=opt,
                                               annotation=hints[f.name]))

        @functools.wraps(func)
        def wrapper(**kwargs):
            built = {}
            for arg, cls in groups.items():
                vals = {owner[k][1]: kwargs.pop(k) for k in [k for k in kwargs if owner.get(k, ("",))[0] == arg]}
                for f in fields(cls):
                    if vals.get(f.name) is None and f.default is MISSING and f.default_factory is not MISSING:
                        vals[f.name] = f.default_factory()
                built[arg] = _build(cls, vals, spelling[arg])
            try:
                return func(**built, **kwargs)
            except ConfigError as e:  # raised by the work (e.g. the bootstrap's memory): name the flags
                flag = {name: fl for group in spelling.values() for name, fl in group.items()}
                raise type(e)(e.spelled(lambda name: flag.get(name, f"`{name}`"))) from None

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
        wrapper.__signature__ = sig.replace(parameters=params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__
        return wrapper

    return decorate


def _build(cls, values: dict, spelling: dict[str, str]):
    """``cls(**values)``, required complete (``require()``, when it has one); a ConfigError is raised
    again with each backticked field spelled as its flag (``spelling``: field name -> flag)."""
    try:
        obj = cls(**values)
        if callable(getattr(obj, "require", None)):
            obj.require()
    except ConfigError as e:
        raise type(e)(e.spelled(lambda name: spelling.get(name, name))) from None
    return obj
