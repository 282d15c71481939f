"""Held-out evaluation: exact baselines equal brute force, scoring equals the env, McNemar's test."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vlmgym  # noqa: F401  (registers the envs)

pytest.importorskip("datasets")

from vlmgym_rl.heldout import HeldOut, mcnemar  # noqa: E402

pytestmark = pytest.mark.rl


def test_baselines_are_the_exact_expectations_over_every_action():
    held = HeldOut(["VLMGym/2048-v0"], 24, seed=3, env_kwargs={"size": 3})
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=1, obs_mode="text", size=3)
    rnd, legal_rate, best, per_move = [], [], [], []
    for state in held.states:
        ok = [float(vec.score([state], [f"<answer>{d}</answer>"])[0][0]) > 0 for d in range(4)]
        per_move.append(ok)
        legal = vec.legal_masks([state])[0]
        rnd.append(np.mean(ok))
        legal_rate.append(np.mean([o for o, m in zip(ok, legal) if m]) if legal.any() else 0.0)
        best.append(any(ok))
    got = held.baselines()
    constant = max(np.mean([ok[d] for ok in per_move]) for d in range(4))  # the best "always d"
    assert got == pytest.approx({"random": np.mean(rnd), "random_legal": np.mean(legal_rate), "best": np.mean(best),
                                 "constant": constant})
    assert got["random"] <= got["random_legal"] <= got["best"] and got["random"] <= got["constant"] <= got["best"]
    # scoring texts: the oracle's best move succeeds wherever some move does
    answers = []
    for state in held.states:
        ok = [float(vec.score([state], [f"<answer>{d}</answer>"])[0][0]) > 0 for d in range(4)]
        answers.append(f"<perception>\nx\n</perception><think>t</think><answer>{int(np.argmax(ok))}</answer>")
    res = held.score_texts(answers)
    assert res.success_rate == pytest.approx(got["best"]) and res.format.all() and not res.perception.any()
    with pytest.raises(ValueError, match="answers for 24"):
        held.score_texts(answers[:3])
    held.close()


def test_mcnemar_exact_p_values():
    assert mcnemar([1, 0, 1], [1, 0, 1]) == 1.0
    # 10 discordant states, all improved: p = 2 * 0.5**10
    assert mcnemar([0] * 10 + [1] * 5, [1] * 15) == pytest.approx(2 * 0.5 ** 10)
    # 6 improved, 4 worse: two-sided tail of 4 in 10
    before = [1] * 4 + [0] * 6
    after = [0] * 4 + [1] * 6
    assert mcnemar(before, after) == pytest.approx(min(1.0, 2 * sum(__import__("math").comb(10, i) for i in range(5)) / 1024))
    with pytest.raises(ValueError, match="shape"):
        mcnemar([1, 0], [1])
