"""Lets a subpackage also be the pipeline function of the same name.

``zenbench.search`` and ``zenbench.export`` are packages (their submodules import as usual) and, as the
public API promises, calls: ``zenbench.search(latency_ms=9)`` runs :func:`zenbench.api.search`. The call is
resolved on first use, so importing the package stays as light as before.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def make_callable(module_name: str, target: str) -> None:
    """Make ``sys.modules[module_name]`` callable as ``target`` (``"package.module:function"``)."""
    module_path, function = target.split(":")

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(module_path), function)(*args, **kwargs)

    CallableModule.__call__.__doc__ = f"Calls :func:`{module_path}.{function}`."
    sys.modules[module_name].__class__ = CallableModule
