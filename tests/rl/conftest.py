"""Fixtures of the trainer-plugin tests (``pytest -m rl``): a tiny Qwen2.5-VL built offline and
the registered games to train on (helpers that script generations are in ``rl_helpers.py``).

Everything runs on CPU without network access. Torch uses one thread: on a shared 2-core machine
two threads are an order of magnitude slower for these tiny matrices.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"  # rollout_func (scripted generations) is "experimental"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (tiny_vlm.py)

import gymnasium as gym  # noqa: E402
import pytest  # noqa: E402

import vlmgym  # noqa: E402


def base_env_ids() -> list[str]:
    """One id per registered game: the shortest id of each game that builds without extra data.

    (Image-tile variants such as a CIFAR-10 Shisen-Sho need a data path and are left out.)
    """
    by_game: dict[str, list[str]] = {}
    for env_id, (kwargs, _) in vlmgym.ENV_IDS.items():
        by_game.setdefault(str(kwargs.get("game")), []).append(env_id)
    out = []
    for ids in by_game.values():
        for env_id in sorted(ids, key=lambda i: (len(i), i)):
            try:
                gym.make_vec(env_id, num_envs=1, obs_mode="text").close()
            except Exception:
                continue
            out.append(env_id)
            break
    return sorted(out)


BASE_IDS = base_env_ids()


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory) -> Path:
    """A tiny random Qwen2.5-VL and its processor, saved once per session."""
    from tiny_vlm import build_tiny_vlm

    path = tmp_path_factory.mktemp("tiny-qwen2.5-vl")
    build_tiny_vlm(seed=0, save_dir=path)
    return path


@pytest.fixture
def tiny_vlm(tiny_vlm_dir) -> tuple[Any, Any]:
    """(model, processor) freshly loaded from the session's saved tiny model (its own parameters)."""
    from tiny_vlm import load_tiny_vlm

    return load_tiny_vlm(tiny_vlm_dir)
