"""The `supportscope` command. Bad input exits with code 2 and one line naming file, line and fix."""

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


def main() -> None:
    try:
        app(standalone_mode=True)
    except SupportscopeError as e:
        Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "bold red"), str(e)))
        sys.exit(2)
