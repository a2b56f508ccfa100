"""Build typer options from a config dataclass, so the CLI and the config never drift apart.

`with_config_options(Config)` turns every dataclass field into a keyword option
(`--field-name`, default and help text from the field) appended to the command's own parameters;
the command receives them bundled as one `config: Config` keyword argument.
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import MISSING, fields

import typer


def with_config_options(config_cls):
    hints = typing.get_type_hints(config_cls)

    def decorate(func):
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "config"]
        extra = []
        for f in fields(config_cls):
            default = f.default if f.default is not MISSING else f.default_factory()
            opt = typer.Option(default, f"--{f.name.replace('_', '-')}", help=f.metadata.get("help", ""),
                               show_default=default is not None)
            extra.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=opt,
                                           annotation=hints[f.name]))
        names = {f.name for f in fields(config_cls)}

        @functools.wraps(func)
        def wrapper(**kwargs):
            cfg = config_cls(**{k: kwargs.pop(k) for k in list(kwargs) if k in names})
            return func(config=cfg, **kwargs)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
        wrapper.__signature__ = sig.replace(parameters=params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__
        return wrapper

    return decorate
