"""Helpers of the trainer-plugin tests: scripted answers and a scripted TRL ``rollout_func``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import gymnasium as gym
import numpy as np

import vlmgym


def image_key(image: Any) -> str:
    """A key of a picture's pixels (what a scripted policy can "see")."""
    return hashlib.sha1(np.asarray(image.convert("RGB")).tobytes()).hexdigest()


def scripted_answers(env_id: str, env_kwargs: dict[str, Any], state: vlmgym.GameState) -> list[str]:
    """Four answers for a state: a successful move (if any), an unsuccessful legal or illegal
    move, garbage, and a fully formatted answer with the exact perception block."""
    env = gym.make(env_id, obs_mode="text", **env_kwargs).unwrapped
    env.reset(options={"state": state})
    game = env.game
    board = env.board_text()
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="text", **env_kwargs)
    answers = [f"<answer>{game.format_answer(game.from_array(game.decode(np.array([i]))[0]))}</answer>"
               for i in range(game.num_actions)]
    legal = np.flatnonzero(env.legal_actions())
    good = bad = None
    for i in legal:
        r, _ = vec.score([state], [answers[i]])
        if r[0] > 0 and good is None:
            good = answers[i]
        if r[0] <= 0 and bad is None:
            bad = answers[i]
    if bad is None:
        illegal = np.flatnonzero(~env.legal_actions())
        bad = answers[illegal[0]] if len(illegal) else "<answer>nothing</answer>"
    first = good if good is not None else answers[legal[0]] if len(legal) else bad
    move = first.removeprefix("<answer>").removesuffix("</answer>")
    formatted = f"<perception>\n{board}\n</perception><think>try it</think><answer>{move}</answer>"
    vec.close()
    env.close()
    return [first, bad, "no idea", formatted]


class ScriptedRollout:
    """A TRL ``rollout_func`` that answers from a script instead of sampling the model.

    This is how the tests control generations through TRL's public API: ``GRPOTrainer(...,
    rollout_func=...)`` replaces only the sampling; TRL still tokenizes the prompts' images for the
    training forward pass, computes the rewards with our reward functions, the advantages, the loss
    and the optimizer step. The rollout sees the prompt's picture, looks up the state it shows in
    the dataset ``rows`` it was given and returns the ``k``-th scripted answer for the ``k``-th
    completion of the group.
    """

    def __init__(self, processor: Any, rows: Any, num_generations: int):
        self.processor = processor
        rows = list(rows)
        self.states = state_map(rows)
        self.states_by_id = {r["state_id"]: vlmgym.GameState.from_bytes(r["state"]) for r in rows}
        self.num_generations = num_generations
        self._answers: dict[str, list[str]] = {}
        self.calls = 0

    #: answers for pictures of states the script was not given (e.g. on-policy states of 2048)
    fallback = ["<answer>0</answer>", "<answer>1</answer>", "no idea", "<answer>2</answer>"]

    def answers_for(self, key: str) -> list[str]:
        if key not in self.states:
            return self.fallback
        if key not in self._answers:
            env_id, kwargs, state = self.states[key]
            self._answers[key] = scripted_answers(env_id, kwargs, state)
        return self._answers[key]

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        tok = self.processor.tokenizer
        prompt_ids = [self.processor.apply_chat_template([p], tokenize=True, add_generation_prompt=True,
                                                         return_dict=True)["input_ids"][0] for p in prompts]
        completion_ids = []
        for i, prompt in enumerate(prompts):
            image = next(b["image"] for m in prompt if isinstance(m["content"], list)
                         for b in m["content"] if b.get("type") == "image")
            answers = self.answers_for(image_key(image))
            text = answers[(i % self.num_generations) % len(answers)]
            completion_ids.append(tok.encode(text, add_special_tokens=False) + [tok.eos_token_id])
        self.calls += 1
        prompt_ids = [list(map(int, ids)) for ids in prompt_ids]
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}


def state_map(rows: Any) -> dict[str, tuple[str, dict[str, Any], vlmgym.GameState]]:
    """image key -> (env_id, env_kwargs, state) for dataset rows."""
    out = {}
    for row in rows:
        out[image_key(row["image"])] = (row["env_id"], json.loads(row["env_kwargs"]),
                                        vlmgym.GameState.from_bytes(row["state"]))
    return out
