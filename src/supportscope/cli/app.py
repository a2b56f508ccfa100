"""The `supportscope` command. Bad input exits with code 2 and one line naming file, line and fix;
anything else that goes wrong (a bug) exits 1 with one line and the path of a traceback file
(:mod:`supportscope.cli.crash`); Ctrl-C exits 130 with one line."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text

from supportscope.errors import SupportscopeError
from supportscope.cli.analyze import analyze
from supportscope.cli.convert_cmd import convert_gguf
from supportscope.cli.demo_cmd import demo
from supportscope.cli.report_cmd import report
from supportscope.cli.organism_cmd import organism_app
from supportscope.cli.run_cmd import run
from supportscope.cli.sample_cmd import audit_data, sample, score

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Did post-training elicit a capability the base model had, or create one?")
app.command(help=analyze.__doc__)(analyze)
app.command(help=report.__doc__)(report)
app.command(help=demo.__doc__)(demo)
app.command(help=sample.__doc__)(sample)
app.command(help=score.__doc__)(score)
app.command(help=run.__doc__)(run)
app.command("audit-data", help=audit_data.__doc__)(audit_data)
app.command("convert-gguf", help=convert_gguf.__doc__)(convert_gguf)
app.add_typer(organism_app, name="organism")


@app.callback()
def _root() -> None:
    """supportscope: elicitation vs creation in post-training (pass@k, regimes, labels, verdict)."""


def _say(*parts) -> None:
    Console(stderr=True, soft_wrap=True).print(Text.assemble(*parts))


def main() -> None:
    try:
        app(standalone_mode=True)
    except SupportscopeError as e:
        _say(("error: ", "bold red"), str(e))
        sys.exit(2)
    except SystemExit as e:
        if e.code == 130 and _interrupted(e):  # typer turns Ctrl-C into a silent exit 130
            _say(("interrupted", "bold red"))
        raise
    except KeyboardInterrupt:
        _say(("interrupted", "bold red"))
        sys.exit(130)
    except BaseException as e:  # noqa: BLE001 - the one place that turns a bug into one line
        from supportscope.cli.crash import crash_line, write_crash_log

        _say(("", "bold red"), crash_line(e, write_crash_log(e)))
        sys.exit(1)


def _interrupted(e: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in the chain of exceptions that led to ``e``."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
