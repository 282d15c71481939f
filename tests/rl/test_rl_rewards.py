"""Reward functions: equal to the env, fair within a group, metrics, odd completions, pickling."""

from __future__ import annotations

import json
import logging
import pickle

import gymnasium as gym
import numpy as np
import pytest
from rl_helpers import scripted_answers

import vlmgym
from conftest import BASE_IDS

pytest.importorskip("datasets")

from vlmgym_rl.rewards import (  # noqa: E402
    FormatReward,
    GameReward,
    PerceptionReward,
    completion_text,
    g0_rewards,
)
from vlmgym_rl.states import build_state_dataset  # noqa: E402

pytestmark = pytest.mark.rl

COLS = ("state", "env_id", "env_kwargs", "board_text", "source", "policy_steps", "image")


class Metrics(dict):
    def __call__(self, name, value):
        self.setdefault(name, []).append(value)


def batch(env_id, n_states=3, seed=0):
    """Rows and, per row, the four scripted answers, laid out like TRL (a group per state)."""
    ds = build_state_dataset(env_id, n_states, seed=seed)
    rows, answers = [], []
    for row in ds:
        script = scripted_answers(env_id, {}, vlmgym.GameState.from_bytes(row["state"]))
        rows += [row] * len(script)
        answers += script
    return rows, answers


def columns(rows):
    return {k: [r[k] for r in rows] for k in COLS}


@pytest.mark.parametrize("env_id", BASE_IDS)
@pytest.mark.parametrize("reward_mode", ["binary", "score"])
def test_game_reward_is_the_envs_reward_for_the_same_completions(env_id, reward_mode):
    rows, answers = batch(env_id)
    completions = [[{"role": "assistant", "content": a}] for a in answers]
    got = GameReward(reward_mode)(prompts=[r["prompt"] for r in rows], completions=completions, **columns(rows))
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="text", reward_mode=reward_mode)
    want = [float(vec.score([vlmgym.GameState.from_bytes(r["state"])], [a])[0][0]) for r, a in zip(rows, answers)]
    assert got == want
    if reward_mode == "binary":
        assert set(got) == {1.0, -1.0}  # the script has successes and failures


@pytest.mark.parametrize("env_id", BASE_IDS)
def test_identical_completions_of_the_same_state_get_identical_rewards(env_id):
    rows, answers = batch(env_id, n_states=2)
    reward = GameReward("score")
    doubled = rows + rows[::-1]
    texts = answers + answers[::-1]
    first = reward(completions=texts, **columns(doubled))
    n = len(rows)
    assert first[:n] == first[n:][::-1]
    again = pickle.loads(pickle.dumps(reward))(completions=texts, **columns(doubled))  # fresh envs
    assert again == first == GameReward("score")(completions=texts, **columns(doubled))


def test_metrics_are_logged_per_game_and_overall():
    rows, answers = batch("VLMGym/2048-v0", n_states=4)
    # answers per group: success, failure, garbage ("no idea"), formatted with exact perception
    logged = Metrics()
    extra = {}
    game = GameReward()
    rewards = game(completions=answers, log_metric=logged, log_extra=lambda k, v: extra.setdefault(k, v),
                   **columns(rows))
    FormatReward()(completions=answers, log_metric=logged)
    PerceptionReward()(completions=answers, log_metric=logged, board_text=[r["board_text"] for r in rows])
    status = np.array(extra["action_status"])
    assert extra["state_id"] == [r["state_id"] for r in rows]
    assert logged["vlmgym/2048-v0/reward"] == [pytest.approx(np.mean(rewards))]
    assert logged["vlmgym/2048-v0/success_rate"] == [pytest.approx(np.mean(np.array(rewards) > 0))]
    assert logged["vlmgym/valid_action_rate"] == [pytest.approx(np.mean(status == "ok"))]
    assert logged["vlmgym/unparsable_rate"] == [pytest.approx(np.mean(status == "unparsable"))]
    assert logged["vlmgym/unparsable_rate"][0] >= 0.25  # "no idea" in every group
    assert logged["vlmgym/2048-v0/illegal_rate"] == [pytest.approx(np.mean(status == "illegal"))]
    assert logged["vlmgym/malformed_rate"] == [0.0] and logged["vlmgym/invalid_state_rate"] == [0.0]
    assert logged["vlmgym/on_policy_rate"] == [0.0]
    assert logged["vlmgym/format_rate"] == [0.25] and logged["vlmgym/P_acc"] == [0.25]
    assert 0.25 <= logged["vlmgym/perception_cell_acc"][0] < 1.0
    assert logged["vlmgym/localization_rate"] == [0.0]
    formatted = np.arange(len(answers)) % 4 == 3
    assert logged["vlmgym/R_acc"] == [pytest.approx(np.mean(np.array(rewards)[formatted] > 0))]
    # R_acc is only defined when some perception is exact
    logged2 = Metrics()
    game(completions=answers[:3], log_metric=logged2, **columns(rows[:3]))
    assert "vlmgym/R_acc" not in logged2 and "vlmgym/2048-v0/reward" in logged2


def test_mixed_games_are_scored_together_with_a_metric_per_game():
    rows, answers = [], []
    for env_id in BASE_IDS:
        r, a = batch(env_id, n_states=1)
        rows += r
        answers += a
    logged = Metrics()
    got = GameReward()(completions=answers, log_metric=logged, **columns(rows))
    for env_id in BASE_IDS:
        key = env_id.split("/", 1)[1]
        idx = [i for i, r in enumerate(rows) if r["env_id"] == env_id]
        assert logged[f"vlmgym/{key}/reward"] == [pytest.approx(np.mean([got[i] for i in idx]))]


@pytest.mark.parametrize("completion, text", [
    ("<answer>1</answer>", "<answer>1</answer>"),
    ([{"role": "assistant", "content": "x"}], "x"),
    ([{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}], "ab"),
    ({"role": "assistant", "content": "y"}, "y"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "z"}], "z"),
    ([{"type": "text", "text": "w"}], "w"),
    ([{"role": "assistant", "content": []}], ""),
    (None, None), (3, None), ([], None), ([{"role": "assistant", "content": None}], None),
    ([{"role": "assistant", "content": [{"type": "image"}]}], None), ([1, 2], None),
])
def test_completion_shapes(completion, text):
    assert completion_text(completion) == text


def test_odd_completions_and_broken_rows_are_logged_not_fatal(caplog):
    rows, answers = batch("VLMGym/2048-v0", n_states=1)
    odd = [None, 42, [{"role": "assistant", "content": [{"type": "image"}]}], answers[0]]
    logged = Metrics()
    got = GameReward()(completions=odd, log_metric=logged, **columns(rows))
    (first,) = GameReward()(completions=answers[:1], **columns(rows[:1]))
    assert got == [-1.0, -1.0, -1.0, first]
    assert logged["vlmgym/malformed_rate"] == [0.75]
    assert FormatReward()(completions=odd) == [0.0] * 3 + [0.0]
    broken = columns(rows)
    broken["state"] = [b"not a state", "text", rows[0]["state"], rows[0]["state"]]
    broken["env_id"] = ["VLMGym/2048-v0"] * 3 + ["VLMGym/Nope-v0"]
    logged = Metrics()
    with caplog.at_level(logging.WARNING, logger="vlmgym_rl.rewards"):
        got = GameReward()(completions=answers, log_metric=logged, **broken)
    assert got == [None, None, first, None]
    assert logged["vlmgym/invalid_state_rate"] == [0.75]
    assert "could not be restored" in caplog.text and "cannot score VLMGym/Nope-v0" in caplog.text
    assert "not bytes" in caplog.text


def test_missing_columns_and_bad_arguments_fail_clearly():
    with pytest.raises(KeyError, match="needs the dataset column 'state'"):
        GameReward()(completions=["a"], env_id=["VLMGym/2048-v0"], env_kwargs=["{}"])
    with pytest.raises(KeyError, match="needs the dataset column 'board_text'"):
        PerceptionReward()(completions=["a"])
    with pytest.raises(ValueError, match="has 2 values for 1 completions"):
        GameReward()(completions=["a"], state=[b"", b""], env_id=["x"], env_kwargs=["{}"])
    with pytest.raises(TypeError, match="completions must be a list"):
        FormatReward()(completions="abc")
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        GameReward("dense")
    with pytest.raises(ValueError, match="perception_weight must be a finite number"):
        g0_rewards(perception_weight=float("nan"))
    with pytest.raises(ValueError, match="env_kwargs is not JSON"):
        GameReward().env_for("VLMGym/2048-v0", "{oops")


def test_format_and_perception_rewards_follow_the_paper():
    board = " 2 | - \n - | 4 "
    full = f"<perception>\n{board}\n</perception><think>t</think><answer>1</answer>"
    wrong = "<perception>\n 2 | - \n - | 8 \n</perception><think>t</think><answer>1</answer>"
    assert FormatReward()(completions=[full, wrong, "<answer>1</answer>"]) == [1.0, 1.0, 0.0]
    assert PerceptionReward()(completions=[full, wrong, "x"], board_text=[board] * 3) == [1.0, 0.0, 0.0]
    assert PerceptionReward()(completions=[full], board_text=[None]) == [None]


def test_rewards_are_picklable_with_trl_names_and_paper_weights():
    funcs, weights = g0_rewards()
    assert [f.__name__ for f in funcs] == ["game_reward", "format_reward", "perception_reward"]
    assert weights == [1.0, 1.0, 0.0]
    assert g0_rewards(perception_weight=0.1, format_weight=0.5)[1] == [1.0, 0.5, 0.1]
    rows, answers = batch("VLMGym/2048-v0", n_states=1)
    for f in funcs:
        f(completions=answers, **columns(rows))  # caches envs
        clone = pickle.loads(pickle.dumps(f))
        assert clone.__name__ == f.__name__
        assert clone(completions=answers, **columns(rows)) == f(completions=answers, **columns(rows))


def test_check_row_rejects_unusable_rows():
    (row,) = build_state_dataset("VLMGym/2048-v0", 1)
    GameReward().check_row(row)
    with pytest.raises(vlmgym.StateError):
        GameReward().check_row({**row, "state": row["state"][:-3]})
    with pytest.raises(ValueError, match="unknown env id"):
        GameReward().check_row({**row, "env_id": "VLMGym/Nope-v0"})
    with pytest.raises(KeyError, match="'env_kwargs'"):
        GameReward().check_row({k: v for k, v in row.items() if k != "env_kwargs"})
    other = json.dumps({"size": 5})
    with pytest.raises(vlmgym.StateError, match="rules"):
        GameReward().check_row({**row, "env_kwargs": other})


@pytest.mark.parametrize("env_id", BASE_IDS)
def test_strict_reward_pays_only_a_closed_answer_block(env_id):
    rows, answers = batch(env_id, n_states=2)
    good = [a for a in answers if a.startswith("<answer>")][0]  # a scripted move in a closed block
    row = rows[answers.index(good)]
    move = good.removeprefix("<answer>").removesuffix("</answer>")
    variants = [good, move, f"<answer>{move}", f"<think>x</think><answer>{move}"]
    cols = columns([row] * len(variants))
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="text")
    state = vlmgym.GameState.from_bytes(row["state"])
    lenient_want = [float(vec.score([state], [v])[0][0]) for v in variants]
    assert GameReward(strict=False)(completions=variants, **cols) == lenient_want
    logged = Metrics()
    strict = GameReward()(completions=variants, log_metric=logged, **cols)
    unparsable = float(vec.score([state], [""])[0][0])
    assert strict == [lenient_want[0]] + [unparsable] * 3  # bare and unterminated replies earn nothing
    assert logged["vlmgym/unclosed_answer_rate"] == [0.75]
    with pytest.raises(TypeError, match="strict"):
        GameReward(strict="yes")
