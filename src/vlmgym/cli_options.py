"""Command-line options generated from a configuration dataclass, and plain-text help.

A config dataclass documents its fields once, in the ``Attributes:`` section of its docstring;
:func:`add_field_options` turns each field into an ``argparse`` option with that text as its help
and the field's default quoted in it, so a default lives only in the dataclass. The options
default to "not given" (``argparse.SUPPRESS``): :func:`given_options` returns only what was typed,
which lets a caller layer its own values (e.g. a saved configuration to resume) under them.

Docstrings are reStructuredText; :func:`plain_text` drops the markup (````x````, ``:class:`~a.B```)
so ``--help`` reads as plain text.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["add_field_options", "field_docs", "given_options", "option_name", "plain_text"]

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`([^`<]*?)\s*(?:<[^`>]*>)?`")  # :class:`text <target>` / :func:`x`
_LITERAL = re.compile(r"``(.+?)``")
_FIELD = re.compile(r"^(\w+):\s*(.*)$")


def plain_text(text: str) -> str:
    """reST inline markup -> plain text: ````x```` -> x, ``:class:`~a.b.C``` -> C, ``:func:`a.f``` -> a.f."""

    def role(m: re.Match[str]) -> str:
        target = m.group(1)
        return target.rsplit(".", 1)[-1] if target.startswith("~") else target

    return _LITERAL.sub(r"\1", _ROLE.sub(role, text))


def field_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of a dataclass's docstring: field name -> plain-text description."""
    lines = (inspect.getdoc(cls) or "").splitlines()
    if "Attributes:" not in lines:
        raise ValueError(f"{cls.__name__} has no 'Attributes:' section documenting its fields")
    docs: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines[lines.index("Attributes:") + 1:]:
        if line and not line.startswith(" "):
            break  # the next section
        body = line.strip()
        m = _FIELD.match(body) if line.startswith("    ") and not line.startswith("     ") else None
        if m:
            current = docs.setdefault(m.group(1), [])
            current.append(m.group(2))
        elif body and current is not None:
            current.append(body)
    return {name: plain_text(" ".join(parts)) for name, parts in docs.items()}


def option_name(name: str) -> str:
    """``warmup_steps`` -> ``--warmup-steps``."""
    return "--" + name.replace("_", "-")


def _scalar_type(hint: Any) -> type:
    """``int``, ``int | None``, ``Optional[str]`` ... -> the one scalar type an option parses."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = tuple(a for a in args if a is not type(None))
        if len(args) == 1:
            hint = args[0]
    if hint not in (int, float, str, bool):
        raise TypeError(f"no command-line option for a field of type {hint!r}")
    return hint


def add_field_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, *,
                      skip: Iterable[str] = (), choices: Mapping[str, Sequence[str]] | None = None,
                      metavars: Mapping[str, str] | None = None) -> list[str]:
    """Add one option per field of dataclass ``cls`` (except ``skip``); return their names (dests).

    ``--field-name VALUE`` for int/float/str fields; a bool field that defaults to False becomes
    the flag ``--field-name``, one that defaults to True the flag ``--no-field-name``.
    """
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    skip = set(skip)
    names = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.name not in docs:
            raise ValueError(f"{cls.__name__}.{f.name} is not documented in its docstring's Attributes")
        kind = _scalar_type(hints[f.name])
        if f.default is dataclasses.MISSING:
            raise ValueError(f"{cls.__name__}.{f.name} has no default: give it as a positional argument")
        doc = docs[f.name].rstrip(".")
        if kind is bool:
            flag = option_name(f.name) if not f.default else "--no-" + f.name.replace("_", "-")
            note = "off by default" if not f.default else "on by default; this flag turns it off"
            parser.add_argument(flag, dest=f.name, action="store_const", const=not f.default,
                                default=argparse.SUPPRESS, help=f"{doc} ({note})")
        else:
            shown = "" if f.default is None else f" (default {f.default})"
            parser.add_argument(option_name(f.name), dest=f.name, type=kind, default=argparse.SUPPRESS,
                                choices=(choices or {}).get(f.name), metavar=(metavars or {}).get(f.name),
                                help=doc + shown)
        names.append(f.name)
    return names


def given_options(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` that were given on the command line (see :func:`add_field_options`)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
