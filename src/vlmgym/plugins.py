"""Importing users' code: modules by name (also from the current directory) and attributes named
``module:attr`` or ``path/to/file.py:attr``.

Used for ``--policy module:function`` and a processor given as ``module:attr``, and for
``--import MODULE``, which imports a module that registers games and ids of its own.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["import_user_module", "load_attr"]


def import_user_module(name: str) -> Any:
    """Import ``name``, also from the current directory (console scripts do not search it)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        if exc.name != name.split(".")[0] or cwd in sys.path or "" in sys.path:
            raise
        sys.path.insert(0, cwd)
        return importlib.import_module(name)


def load_attr(spec: str, what: str = "object", error: type[Exception] = ValueError, hint: str = "") -> Any:
    """``module:attr`` or ``path/to/file.py:attr`` -> the attribute.

    Failures raise ``error`` with a message naming ``what`` was asked for (``hint`` is added when
    the module cannot be imported).
    """
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise error(f"{what} {spec!r}: expected module:attr")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise error(f"{what} {spec!r}: file {target} not found")
        name = f"vlmgym_user_{what}_{hashlib.blake2b(str(path.resolve()).encode(), digest_size=6).hexdigest()}"
        module = sys.modules.get(name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise error(f"{what} {spec!r}: cannot import {target}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            loader_spec.loader.exec_module(module)
    else:
        try:
            module = import_user_module(target)
        except ImportError as exc:
            raise error(f"unknown {what} {spec!r}: cannot import module {target!r} ({exc}).{' ' + hint if hint else ''}"
                        ) from None
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise error(f"{what} {spec!r}: {target} has no attribute {attr!r}") from None
    return obj
