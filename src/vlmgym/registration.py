"""Every ``VLMGym/*`` id, in one place, and the one way any id reaches vlmgym's envs.

Each id maps to the generic env classes with a game name and its preset kwargs; every kwarg can be
overridden in ``gym.make``/``gym.make_vec`` and shows up in ``env.spec.kwargs``. An id of your own
registered with :func:`register_env` (vlmgym's entry points) works everywhere a built-in id does:
``vlmgym eval`` (and its glob patterns), ``vlmgym list --all``, ``vlmgym play``, the trainer plugin.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

__all__ = ["ENV_IDS", "SINGLE_ENTRY_POINT", "VECTOR_ENTRY_POINT", "is_vlmgym_id", "register_env",
           "register_envs", "registered_ids", "require_vlmgym_id"]

SINGLE_ENTRY_POINT = "vlmgym.envs.single:VLMGymEnv"
VECTOR_ENTRY_POINT = "vlmgym.envs.vector:VLMGymVectorEnv"

#: id -> (game kwargs, max_episode_steps). The paper's configurations and difficulty presets.
ENV_IDS: dict[str, tuple[dict[str, Any], int | None]] = {
    "VLMGym/2048-v0": ({"game": "2048", "size": 4}, None),
    # Swap never ends by itself; 100 steps matches the paper's 100-step evaluation.
    "VLMGym/Swap-v0": ({"game": "swap", "rows": 8, "cols": 8, "colors": 4, "shapes": 3}, 100),
}


# Shisen-Sho: the paper's two configurations, then the difficulty presets of its figure (a
# perception axis: more colours and shapes; a reasoning axis: a bigger board with more tiles; and
# their composition). Colours and shapes are counts taking the first N of vlmgym.core.tiles.
# Shisensho-v0 names no palette: the game's default is the paper's (16 colours x 6 shapes), and a
# preset palette would collide with an image tile set passed as tiles= (a palette is a setting of
# shape tiles only).
_SHISENSHO = {"game": "shisensho", "rows": 6, "cols": 6, "types": 9}
ENV_IDS.update({
    "VLMGym/Shisensho-v0": (dict(_SHISENSHO), None),
    # needs cifar10_path=... or the VLMGYM_CIFAR10 environment variable
    "VLMGym/ShisenshoCifar10-v0": ({**_SHISENSHO, "tiles": "cifar10"}, None),
    "VLMGym/ShisenshoBase-v0": ({**_SHISENSHO, "colors": 6, "shapes": 6}, None),
    "VLMGym/ShisenshoMoreShapesColors-v0": ({**_SHISENSHO, "colors": 16, "shapes": 8}, None),
    "VLMGym/ShisenshoMoreTiles-v0": (
        {**_SHISENSHO, "rows": 12, "cols": 12, "types": 36, "colors": 6, "shapes": 6}, None),
    "VLMGym/ShisenshoComposition-v0": (
        {**_SHISENSHO, "rows": 12, "cols": 12, "types": 36, "colors": 16, "shapes": 8}, None),
})


# Sokoban: RAGEN's and VAGEN's room (6x6, one box), then bigger rooms with more boxes. 100 steps, as
# RAGEN and VAGEN play an episode (which a box stuck in a corner does not end either); every room is
# solvable in at most search_depth = 30 moves.
_SOKOBAN = {"game": "sokoban", "search_depth": 30, "end_on_deadlock": False}
ENV_IDS.update({
    "VLMGym/Sokoban-v0": ({**_SOKOBAN, "rows": 6, "cols": 6, "boxes": 1}, 100),
    "VLMGym/Sokoban7x7-v0": ({**_SOKOBAN, "rows": 7, "cols": 7, "boxes": 2}, 100),
    "VLMGym/Sokoban8x8-v0": ({**_SOKOBAN, "rows": 8, "cols": 8, "boxes": 3}, 100),
})


# Minesweeper: 8x8 with 10 mines, then the reasoning axis (size and mine density: 5x5/3, the classic
# beginner 9x9/10 and intermediate 16x16/40) and the perception axis (numbers drawn as black dots, to
# be counted). 100 steps, as the other games' evaluation; a finished board is dealt again.
_MINESWEEPER = {"game": "minesweeper"}
ENV_IDS.update({
    "VLMGym/Minesweeper-v0": ({**_MINESWEEPER, "rows": 8, "cols": 8, "mines": 10}, 100),
    "VLMGym/Minesweeper5x5-v0": ({**_MINESWEEPER, "rows": 5, "cols": 5, "mines": 3}, 100),
    "VLMGym/Minesweeper9x9-v0": ({**_MINESWEEPER, "rows": 9, "cols": 9, "mines": 10}, 100),
    "VLMGym/Minesweeper16x16-v0": ({**_MINESWEEPER, "rows": 16, "cols": 16, "mines": 40}, 100),
    "VLMGym/MinesweeperDots-v0": (
        {**_MINESWEEPER, "rows": 8, "cols": 8, "mines": 10, "numbers": "dots", "palette": "plain"}, 100),
})


def register_env(env_id: str, game: str, *, max_episode_steps: int | None = None, **kwargs: Any) -> None:
    """Register ``env_id`` for a registered game with vlmgym's single and vector envs.

    ``kwargs`` are the id's presets (game arguments and env options such as ``cell_px``);
    ``max_episode_steps`` is the step budget on the state's steps (stored in the kwargs);
    ``gym.make(env_id)`` and ``gym.make_vec(env_id, num_envs=n)`` then build vlmgym envs, and
    the id works with every vlmgym tool. Registering an id twice raises Gymnasium's error.

    Example::

        vlmgym.register_env("Mine/Small2048-v0", game="2048", size=3)
    """
    if not isinstance(game, str) or not game:
        raise ValueError(f"game must be the name of a registered game, got {game!r}")
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    # The step budget is an env kwarg, not the spec's max_episode_steps: Gymnasium would wrap the
    # env in a TimeLimit counting the calls since reset(), while vlmgym counts the state's steps,
    # so a restored snapshot keeps its budget (env.spec.max_episode_steps still reports it).
    gym.register(id=env_id, entry_point=SINGLE_ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT,
                 kwargs={"game": game, **kwargs})


def register_envs() -> None:
    """Register every built-in id with Gymnasium (idempotent)."""
    for env_id, (kwargs, max_steps) in ENV_IDS.items():
        if env_id not in gym.registry:
            register_env(env_id, max_episode_steps=max_steps, **kwargs)


def _is_ours(entry_point: Any, path: str) -> bool:
    if isinstance(entry_point, str):
        return entry_point == path
    if isinstance(entry_point, type):  # a class given directly: vlmgym's or a subclass of it
        import importlib

        module, _, name = path.partition(":")
        ours = getattr(importlib.import_module(module), name)
        return issubclass(entry_point, ours)
    return False


def is_vlmgym_id(env_id: str) -> bool:
    """Whether ``env_id`` is registered with vlmgym's single *and* vector entry points."""
    spec = gym.registry.get(env_id) if isinstance(env_id, str) else None
    return (spec is not None and _is_ours(spec.entry_point, SINGLE_ENTRY_POINT)
            and _is_ours(spec.vector_entry_point, VECTOR_ENTRY_POINT))


def registered_ids(include_user: bool = False) -> list[str]:
    """The built-in ids, sorted; with ``include_user`` also every other id registered with
    vlmgym's entry points (yours, e.g. through :func:`register_env`)."""
    ids = {i for i in ENV_IDS if i in gym.registry}
    if include_user:
        ids |= {i for i in gym.registry if is_vlmgym_id(i)}
    return sorted(ids)


def require_vlmgym_id(env_id: str) -> str:
    """``env_id`` if it is a vlmgym id, else ``ValueError`` listing the ids there are."""
    if not is_vlmgym_id(env_id):
        raise ValueError(f"unknown env id {env_id!r}; registered ids: {registered_ids(include_user=True)} (an id "
                         "of your own needs vlmgym's entry points: vlmgym.register_env)")
    return env_id
