"""Every registered id through the public conformance check (add a game, get these tests for free).

Each check of :func:`vlmgym.testing.check_game` runs as its own test, so a failure names the id and
the check.
"""

from __future__ import annotations

import pytest

import vlmgym
from vlmgym.testing import CHECKS, check_game

IDS = vlmgym.registered_ids()


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("env_id", IDS)
def test_check_game(env_id, check, env_kwargs_for):
    check_game(env_id, env_kwargs=env_kwargs_for.get(env_id), checks=[check])


def test_module_prefixed_id_imports_package_in_a_fresh_process():
    import subprocess
    import sys

    code = ("import gymnasium as gym, sys; env = gym.make('vlmgym:VLMGym/2048-v0'); "
            "assert 'vlmgym' in sys.modules; print(env.spec.id, env.spec.vector_entry_point)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["VLMGym/2048-v0", "vlmgym.envs.vector:VLMGymVectorEnv"]
