"""The games known by name: snapshots name their game, envs look it up here.

A module that defines a game registers it with :func:`register_game` when it is imported. The
built-in games are imported by ``import vlmgym`` (every module of :mod:`vlmgym.games`); a game of
your own is known once its module is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from vlmgym.core.game import Game

__all__ = ["game_class", "game_names", "register_game"]

_GAMES: dict[str, type[Game]] = {}
G = TypeVar("G", bound="type[Game]")


def register_game(name: str) -> Callable[[G], G]:
    """Class decorator: make a game class known by ``name`` (used by snapshots and the envs)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a game name must be a non-empty string, got {name!r}")

    def deco(cls: G) -> G:
        if name in _GAMES and _GAMES[name] is not cls:
            raise ValueError(f"game {name!r} is already registered by {_GAMES[name].__qualname__}")
        cls.name = name
        _GAMES[name] = cls
        return cls

    return deco


def game_class(name: str) -> type[Game]:
    """Look up a registered game class by name (``KeyError`` listing the known names)."""
    try:
        return _GAMES[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown game {name!r}; known games: {sorted(_GAMES)} (is the module that "
                       "defines it imported?)") from None


def game_names() -> list[str]:
    """Names of every registered game, sorted."""
    return sorted(_GAMES)
