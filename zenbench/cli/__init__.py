"""The ``zenbench`` command line: one module per command group, parsing and rendering only.

``main`` is the console script; ``app`` the typer app (tests drive it with ``typer.testing.CliRunner``).
"""

from zenbench.cli.app import app, main, version

__all__ = ["app", "main", "version"]
