"""The ``modelport`` command line (Typer + Rich).

Commands only adapt: the work is in the library. Every command ends with a clear
message: a library error prints ``error:`` and ``hint:`` and exits 1; anything
unexpected prints one line and how to see the traceback (``MODELPORT_DEBUG=1``).

Start-up is kept cheap: the command modules import only Typer and Rich at module
level, and the library (pandas, scikit-learn, the registry, the server) inside the
command that needs it, so ``--help`` or ``models list`` never pay for the rest.
"""

from __future__ import annotations

import errno
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from modelport.cli import (
    aliases,
    audit,
    batch,
    canary,
    demo,
    deploy,
    doctor,
    experiment,
    export,
    keys,
    models,
    monitor,
    optimize,
    package,
    serve,
)
from modelport.cli.output import fail
from modelport.errors import ModelportError

#: set to 1 to let unexpected exceptions through with their traceback
DEBUG_ENV = "MODELPORT_DEBUG"


def debugging() -> bool:
    """``MODELPORT_DEBUG``, read through the settings tree (only when something failed)."""
    from modelport.settings import Settings

    try:
        return Settings().debug
    except Exception:  # the settings themselves may be what is broken
        return False


class _Root(TyperGroup):
    """The root command: turns whatever a command raises into one clear message."""

    # Any: Typer's own base class declares its vendored click Context here
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise  # usage errors, exits and Ctrl-C: Typer reports those itself
        except ModelportError as exc:
            fail(exc.message, exc.hint)
            raise typer.Exit(1) from exc
        except Exception as exc:
            # EOFError included: left to Typer, it would print a bare "Aborted." (it takes
            # EOF for a closed prompt), and a file that ends too early is no interrupt.
            # A closed pipe (`modelport models list | head -1`) is Typer's to end quietly.
            if debugging() or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
                raise
            fail(
                f"unexpected {_kind(exc)}: {_one_line(exc)}",
                f"this is a bug or an unhandled case; rerun with {DEBUG_ENV}=1 for the "
                "traceback and report it",
            )
            raise typer.Exit(1) from exc


def _kind(exc: BaseException) -> str:
    """``KeyError``, ``struct.error``, ``zipfile.BadZipFile``: builtins bare, others placed."""
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _one_line(exc: BaseException) -> str:
    # the first line: libraries append stack traces and details on the following ones
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else "(no message)"
    return text[:300] + "..." if len(text) > 300 else text


app = typer.Typer(
    name="modelport",
    cls=_Root,
    help=(
        "modelport: registry, serving, batch scoring and monitoring for ML models.\n\n"
        "Example:\n\n"
        "    modelport demo\n\n"
        "    modelport models list\n\n"
        "Settings come from MODELPORT_* environment variables, e.g. MODELPORT_HOME=/srv/modelport; "
        f"{DEBUG_ENV}=1 shows the traceback of an unexpected error."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
models.attach(app)
aliases.attach(app)
deploy.attach(app)
canary.attach(app)
experiment.attach(app)
demo.attach(app)
monitor.attach(app)
batch.attach(app)
serve.attach(app)
package.attach(app)
keys.attach(app)
audit.attach(app)
doctor.attach(app)
optimize.attach(app)
export.attach(app)


def main() -> None:
    """Console entry point: every failure becomes one clear message and a non-zero exit."""
    try:
        app()
    except ModelportError as exc:  # raised outside a command (while parsing), if ever
        fail(exc.message, exc.hint)
        sys.exit(1)
