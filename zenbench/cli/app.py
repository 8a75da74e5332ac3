"""The ``zenbench`` typer app: the command tree, ``--version``, and one-line errors with shell exit codes.

Exit codes: 0 success; 2 for every user error (a bad option value, a ZenbenchError, an unreadable or
non-UTF-8 file, a missing optional package), printed as one ``error: ...`` line on stderr; 130 for Ctrl-C.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

try:  # typer >= 0.22 vendors click as typer._click; older typer uses click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors  # type: ignore[no-redef]

from zenbench.cli import benchmark, demo, devices, export, latency, networks, report, search
from zenbench.errors import StructureError, ZenbenchError

F = TypeVar("F", bound=Callable[..., Any])

#: optional packages and the extra that installs them
EXTRAS = {"tensorrt": "tensorrt", "ai_edge_litert": "tflite", "litert_torch": "tflite", "tflite": "tflite",
          "ray": "distributed"}


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def one_line(error: ZenbenchError) -> str:
    """A ZenbenchError's message on one line (a StructureError's caret drawing is left out)."""
    text = str(error)
    return text.splitlines()[0] if isinstance(error, StructureError) and text else " ".join(text.split())


def _interrupted(error: BaseException) -> bool:
    """Whether ``error`` reports a Ctrl-C the library handled (e.g. a search's SearchInterrupted)."""
    return any(cls.__name__.endswith("Interrupted") for cls in type(error).__mro__)


def friendly_errors(func: F) -> F:
    """Turn user errors raised while a command runs into one line and exit 2; Ctrl-C into exit 130."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZenbenchError as error:
            fail(one_line(error), 130 if _interrupted(error) else 2)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except UnicodeDecodeError as error:
            fail(f"a file given is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8")
        except ModuleNotFoundError as error:
            root = (error.name or "").split(".")[0]
            extra = EXTRAS.get(root)
            hint = f"pip install 'zenbench[{extra}]'" if extra else f"pip install {root}"
            fail(f"the optional package {root!r} is not installed: {hint}, or choose another device or format")
        except OSError as error:
            if error.filename is None:
                raise
            fail(f"{error.filename}: {error.strerror or error}; check the path and its permissions")

    return wrapper  # type: ignore[return-value]


class OneLineErrors(TyperGroup):
    """The root group: a usage error (unknown option, value out of range) is one line and exit 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as error:
            typer.echo(error.format_message())
            if not standalone_mode:
                raise
            sys.exit(error.exit_code)
        except click_errors.ClickException as error:
            if not standalone_mode:
                raise
            path = error.ctx.command_path if getattr(error, "ctx", None) else "zenbench"
            typer.echo(f"error: {' '.join(error.format_message().split())}; see '{path} --help'", err=True)
            sys.exit(2)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("error: aborted", err=True)
            sys.exit(130)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zenbench {version()}")
        raise typer.Exit()


def version() -> str:
    """The installed package's version, or the source tree's when it is not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("zenbench")
    except PackageNotFoundError:
        from zenbench import __version__

        return __version__


app = typer.Typer(name="zenbench", cls=OneLineErrors, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode="markdown",
                  help="Hardware-aware latency benchmarking and zero-shot NAS (Zen-NAS) for CNNs.")
benchmark_app = typer.Typer(help="Benchmarks against ground truth: proxies vs NAS-Bench-201 accuracy, latency fits.",
                            no_args_is_help=True, rich_markup_mode="markdown")
table_app = typer.Typer(help="Latency tables: fit one from whole-network measurements, or refit a calibration.",
                        no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(benchmark_app, name="benchmark")
app.add_typer(table_app, name="table")


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Hardware-aware latency benchmarking and zero-shot NAS (Zen-NAS) for CNNs."""


COMMANDS: tuple[tuple[typer.Typer, str, Callable[..., Any]], ...] = (
    (app, "inspect", networks.inspect),
    (app, "zoo", networks.zoo),
    (app, "score", networks.score),
    (app, "proxies", networks.proxies),
    (app, "devices", devices.devices),
    (app, "profile", devices.profile),
    (app, "predict", latency.predict),
    (app, "measure", devices.measure),
    (app, "validate", devices.validate),
    (app, "search", search.search),
    (app, "export", export.export),
    (app, "demo", demo.demo),
    (app, "report", report.report),
    (table_app, "fit", latency.table_fit),
    (table_app, "recalibrate", latency.table_recalibrate),
    (benchmark_app, "proxies", benchmark.proxies),
    (benchmark_app, "nb201-search", benchmark.nb201_search),
    (benchmark_app, "latency-fit", benchmark.latency_fit),
)
for _group, _name, _function in COMMANDS:
    _group.command(_name)(friendly_errors(_function))


def main() -> None:
    """The console script ``zenbench``."""
    app(prog_name="zenbench")
