"""Write ``tests/data/snapshots_v1/``: snapshots of every registered id saved by the code of
commit 0e4d935 (before the game plug-in surface), with what that code said about them.

Run once, from the repository root: ``python tests/data/make_snapshots_v1.py``. The files are
committed; ``tests/test_snapshots_v1.py`` loads them with the current code and checks that board
text, score and the next board after a fixed answer are unchanged. Do not regenerate them with
newer code: their value is that an older version wrote them.

Per id three snapshots: ``fresh`` (reset with seed 0), ``random`` (reset with seed 1, then random
legal moves) and ``late`` (seed 2, random legal moves until the game ends, taken a few moves before
the end; Swap never ends, so after 95 moves). Next to each ``<name>.bin`` a ``<name>.json`` holds the
board text, score, steps, successes, a fixed answer (the lowest legal index action, written as text)
and the reward, status and board text after it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ (fake_cifar)

import vlmgym  # noqa: E402
from fake_cifar import write_archive  # noqa: E402

OUT = HERE / "snapshots_v1"


def legal_answer(env) -> str:
    game = env.game
    legal = np.flatnonzero(env.legal_actions())
    index = int(legal[0]) if len(legal) else 0
    return f"<answer>{game.format_answer(game.from_array(game.decode(np.array([index]))[0]))}</answer>"


def random_move(env, rng) -> tuple[bool, bool]:
    game = env.game
    legal = np.flatnonzero(env.legal_actions())
    index = int(rng.choice(legal)) if len(legal) else int(rng.integers(game.num_actions))
    answer = f"<answer>{game.format_answer(game.from_array(game.decode(np.array([index]))[0]))}</answer>"
    _, _, terminated, truncated, _ = env.step(answer)
    return bool(terminated), bool(truncated)


def record(env_id: str, kwargs: dict, name: str, env, state) -> None:
    env.set_state(state)
    answer = legal_answer(env)
    board, s = env.board_text(), env.get_state()
    _, reward, terminated, _, info = env.step(answer)
    slug = env_id.split("/")[-1]
    (OUT / f"{slug}-{name}.bin").write_bytes(state.to_bytes())
    meta = {
        "env_id": env_id, "label": name, "digest": state.digest(),
        "board_text": board, "score": int(s["score"]), "steps": int(s["steps"]),
        "successes": int(s["successes"]), "answer": answer, "next_reward": float(reward),
        "next_status": info["action_status"], "next_terminated": bool(terminated),
        "next_board_text": info["board_text"], "next_score": int(info["score"]),
    }
    (OUT / f"{slug}-{name}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    import tempfile

    archive, _ = write_archive(Path(tempfile.mkdtemp()), per_class=6)  # as tests/conftest.py
    extra = {"VLMGym/ShisenshoCifar10-v0": {"cifar10_path": str(archive)}}
    for env_id in sorted(vlmgym.ENV_IDS):
        kwargs = extra.get(env_id, {})
        wrapped = gym.make(env_id, obs_mode="text", **kwargs)
        env = wrapped.unwrapped
        env.reset(seed=0)
        fresh = env.get_state()
        env.reset(seed=1)
        rng = np.random.default_rng(1)
        for _ in range(12):
            if any(random_move(env, rng)):
                env.reset(seed=11)
        random_state = env.get_state()
        env.reset(seed=2)
        rng = np.random.default_rng(2)
        history = [env.get_state()]
        for _ in range(2000):
            terminated, _ = random_move(env, rng)
            history.append(env.get_state())
            if terminated or len(history) > 95 and env.game.name == "swap":
                break
        late = history[-4]
        for name, state in (("fresh", fresh), ("random", random_state), ("late", late)):
            record(env_id, kwargs, name, env, state)
        wrapped.close()
        print(env_id, "ok")


if __name__ == "__main__":
    main()
