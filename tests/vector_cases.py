"""One vector-env case per game for the autoreset and wrapper tests: a small board, so that games end
within a few steps (terminations, not only truncations), on every kind of board vlmgym has.

A game added to ``vlmgym.ENV_IDS`` later is picked up by construction, at its registered size (its
episodes then end by truncation: the tests pass a small ``max_episode_steps``).
"""

from __future__ import annotations

from typing import Any

import vlmgym

#: game name -> kwargs that make its episodes short
SMALL: dict[str, dict[str, Any]] = {
    "2048": {"size": 3},
    "shisensho": {"rows": 2, "cols": 4, "types": 2},
    "swap": {"rows": 3, "cols": 4},
}


def _kind(env_id: str) -> tuple[str, str]:
    kwargs = vlmgym.ENV_IDS[env_id][0]
    return kwargs["game"], str(kwargs.get("tiles", ""))


def one_id_per_game() -> list[str]:
    """The first id (sorted) of each game and tile kind: 2048, Shisen-Sho, Shisen-Sho-Cifar10, Swap, ..."""
    seen: dict[tuple[str, str], str] = {}
    for env_id in sorted(vlmgym.ENV_IDS):
        seen.setdefault(_kind(env_id), env_id)
    return sorted(seen.values())


def small_kwargs(env_id: str, extra: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Env kwargs of the case for ``env_id``: its small board plus the id's test kwargs (``extra``)."""
    return {**SMALL.get(_kind(env_id)[0], {}), **(extra or {}).get(env_id, {})}
