"""GRPO-style group scoring: 5 answers per sampled state, scored on copies (live envs untouched)."""

import gymnasium as gym
import numpy as np

import vlmgym

samples = vlmgym.sample_states("VLMGym/2048-v0", n=8, seed=0)   # reset + 100 random moves, 1 render
states = [s for s in samples.states for _ in range(5)]           # each state repeated per answer
rng = np.random.default_rng(0)
answers = [f"<answer>{d}</answer>" for d in rng.integers(0, 4, len(states))]

vec = gym.make_vec("VLMGym/2048-v0", num_envs=1)
rewards, infos = vec.score(states, answers, return_states=True)
for g in range(len(samples)):
    group = slice(5 * g, 5 * g + 5)
    print(f"state {samples.states[g].digest()}: answers {answers[group]} -> rewards {rewards[group]}")

# the random stream lives in the state: scoring again gives exactly the same results
again, _ = vec.score(states, answers)
assert np.array_equal(rewards, again)
print("next state of the first answer:\n" + vec.board_texts(infos["next_state"][:1])[0])
