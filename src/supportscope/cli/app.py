"""The `supportscope` command. Bad input exits with code 2 and one line naming file, line and fix;
anything else that goes wrong (a bug) exits 1 with one line and the path of a traceback file
(:mod:`supportscope.cli.crash`); Ctrl-C exits 130 with one line."""

from __future__ import annotations

import errno
import os
import sys

import typer
from rich.console import Console
from rich.text import Text

from supportscope.errors import SupportscopeError, one_line
from supportscope.cli.analyze import analyze
from supportscope.cli.convert_cmd import convert_gguf
from supportscope.cli.demo_cmd import demo
from supportscope.cli.grade_cmd import grade
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
app.command(help=grade.__doc__)(grade)
app.command("convert-gguf", help=convert_gguf.__doc__)(convert_gguf)
app.add_typer(organism_app, name="organism")


@app.callback()
def _root() -> None:
    """supportscope: elicitation vs creation in post-training (pass@k, regimes, labels, verdict)."""


def _say(*parts) -> None:
    Console(stderr=True, soft_wrap=True).print(Text.assemble(*parts))


#: click's error base, through typer's public BadParameter (typer may vendor click as typer._click)
ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click's own errors come here, not as a multi-line box
    except ClickException as e:  # a bad flag, a value click cannot parse ('1e7')
        if type(e).__name__ == "NoArgsIsHelpError":  # `supportscope` (or `... organism`) alone
            if e.format_message().strip():  # typer's rich help is printed while it is built
                e.show()
            sys.exit(2)
        _say(("error: ", "bold red"), usage_line(e))
        sys.exit(2)
    except typer.Abort:
        _say(("aborted", "bold red"))
        sys.exit(1)
    except SupportscopeError as e:
        _say(("error: ", "bold red"), str(e))
        sys.exit(2)
    except OSError as e:
        line = environment_error(e)
        if line is None:
            _crash(e)
        _say(("error: ", "bold red"), line)
        sys.exit(2)
    except SystemExit as e:
        if e.code == 130 and _interrupted(e):  # typer turns Ctrl-C into a silent exit 130
            _say(("interrupted", "bold red"))
        raise
    except KeyboardInterrupt:
        _say(("interrupted", "bold red"))
        sys.exit(130)
    except BaseException as e:  # noqa: BLE001 - the one place that turns a bug into one line
        _crash(e)
    else:
        if code == 130:  # typer turns Ctrl-C into exit code 130
            _say(("interrupted", "bold red"))
        # a command's own return value is not an exit code; click's Exit(code) returns its code
        sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


def usage_line(e: Exception) -> str:
    """One line for click's own error ``e``: ``supportscope CMD: what. Fix: see `supportscope CMD --help```."""
    ctx = getattr(e, "ctx", None)
    where = ctx.command_path if ctx is not None else "supportscope"
    what = one_line(e.format_message()).rstrip(".")
    return f"{where}: {what}. Fix: see `{where} --help`"


def _crash(e: BaseException) -> None:
    from supportscope.cli.crash import crash_line, write_crash_log

    _say(("", "bold red"), crash_line(e, write_crash_log(e)))
    sys.exit(1)


#: errno -> the fix, for the failures of the machine rather than of supportscope (a full disk, a
#: quota, ``ulimit -f``, a read-only or forbidden folder): one ``error:`` line, exit 2, not a crash
ENVIRONMENT_FIXES = {
    errno.ENOSPC: "free disk space and run again, or choose another --out on a disk with room",
    errno.EDQUOT: "free space within your disk quota and run again, or choose another --out",
    errno.EFBIG: "raise the file-size limit (ulimit -f) and run again, or choose another --out",
    errno.EROFS: "the file system is read-only: choose another --out",
    errno.EACCES: "make that path writable (or readable) for you, or choose another --out",
    errno.EPERM: "make that path writable (or readable) for you, or choose another --out",
}


def environment_error(e: OSError) -> str | None:
    """The one line (``"PATH: what (errno). Fix: how"``) for an OSError the machine caused
    (:data:`ENVIRONMENT_FIXES`) while a command read or wrote its files, or None for any other
    OSError (a bug: the crash line). Names the file when the error carries it."""
    fix = ENVIRONMENT_FIXES.get(e.errno)
    if fix is None:
        return None
    where = " -> ".join(os.fspath(f) for f in (e.filename, e.filename2) if f is not None) or "a file of this command"
    what = e.strerror or os.strerror(e.errno)
    return one_line(f"{where}: {what} ({errno.errorcode.get(e.errno, e.errno)}). Fix: {fix}")


def _interrupted(e: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in the chain of exceptions that led to ``e``."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False
