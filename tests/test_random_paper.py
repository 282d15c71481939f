"""`random-paper`: the sampling of the G1 paper's original eval scripts, and its use under
`--protocol paper`.

The original (chenllliang/G1, vlmgym/test/eval_{shisensho,shisensho_cifar10,swap}.py) answers
`(r1, c1) (r2, c2)` with two cells each drawn by `random.choice` from the 64 positions of an 8 x 8
grid, whatever the board; eval_2048.py draws `np.random.randint(0, 4)`. The slow reference below
restates that with Python's `random`; the policy must match its distribution.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import gymnasium as gym
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vlmgym.cli import main
from vlmgym.eval import PaperRandomPolicy, PolicyError, Query, RandomPolicy, make_policy

PAIR = re.compile(r"<answer>\((\d+), (\d+)\) \((\d+), (\d+)\)</answer>")


def reference_answers(n: int, seed: int) -> list[tuple[int, int, int, int]]:
    """The original scripts' draw, restated: two independent cells from an 8 x 8 grid."""
    rnd = random.Random(seed)
    candidates = [(i, j) for i in range(8) for j in range(8)]
    out = []
    for _ in range(n):
        (r1, c1), (r2, c2) = rnd.choice(candidates), rnd.choice(candidates)
        out.append((r1, c1, r2, c2))
    return out


def queries(env_id: str, n: int, first_seed: int = 0, **kwargs) -> list[Query]:
    vec = gym.make_vec(env_id, num_envs=1, **kwargs)
    obs, info = vec.reset(seed=0)
    state = vec.get_states()[0]
    return [Query(env_id, 0, 1, info["prompt"][0], obs[0], None, first_seed + k, state, vec) for k in range(n)]


def coords(answers) -> list[tuple[int, int, int, int]]:
    out = []
    for a in answers:
        m = PAIR.fullmatch(a)
        assert m, a
        out.append(tuple(int(x) for x in m.groups()))
    return out


def _stats(pairs):
    n = len(pairs)
    adjacent = sum(abs(r1 - r2) + abs(c1 - c2) == 1 for r1, c1, r2, c2 in pairs) / n
    same = sum((r1, c1) == (r2, c2) for r1, c1, r2, c2 in pairs) / n
    on_6x6 = sum(max(p) < 6 for p in pairs) / n
    return adjacent, same, on_6x6


@pytest.mark.parametrize("env_id", ["VLMGym/Swap-v0", "VLMGym/Shisensho-v0", "VLMGym/ShisenshoMoreTiles-v0"])
def test_coordinates_are_drawn_from_0_to_7_on_every_board_like_the_original(env_id):
    n = 6000
    mine = coords(PaperRandomPolicy()(queries(env_id, n)))
    ref = reference_answers(n, seed=1)
    for pairs in (mine, ref):
        counts = Counter(v for p in pairs for v in p)
        assert set(counts) == set(range(8))  # every coordinate 0..7, nothing else, on 6x6 and 12x12 alike
        expected = 4 * n / 8
        chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
        assert chi2 < 30, chi2  # 7 degrees of freedom: p < 1e-4 beyond this
    # independent cells: the same shares of adjacent pairs, repeated cells and on-6x6 pairs as the
    # reference (expected 224/4096 = 5.5%, 1/64 = 1.6%, (6/8)^4 = 31.6%), within 4 sigma
    for got, want, p in zip(_stats(mine), _stats(ref), (224 / 4096, 1 / 64, (6 / 8) ** 4)):
        sigma = (p * (1 - p) / n) ** 0.5
        assert abs(got - p) < 4 * sigma and abs(want - p) < 4 * sigma, (got, want, p)


def test_clean_random_stays_on_the_board_and_adjacent_on_swap():
    """The contrast the two baselines exist for: `random` on Swap only names adjacent pairs."""
    pairs = coords(RandomPolicy()(queries("VLMGym/Swap-v0", 500)))
    assert all(abs(r1 - r2) + abs(c1 - c2) == 1 for r1, c1, r2, c2 in pairs)


def test_2048_draws_a_uniform_direction_exactly_as_random():
    qs = queries("VLMGym/2048-v0", 2000)
    mine = PaperRandomPolicy()(qs)
    assert mine == RandomPolicy()(qs)  # same draw from the same per-query seed: identical games
    counts = Counter(mine)
    assert set(counts) == {f"<answer>{d}</answer>" for d in range(4)}
    assert all(abs(c - 500) < 4 * (2000 * 0.25 * 0.75) ** 0.5 for c in counts.values())


@given(st.integers(0, 2**31 - 1))
def test_every_answer_is_well_formed_and_reproducible(seed):
    qs = queries("VLMGym/Shisensho-v0", 3, first_seed=seed)
    answers = PaperRandomPolicy()(qs)
    assert answers == PaperRandomPolicy()(qs)
    assert all(0 <= v < 8 for p in coords(answers) for v in p)


def test_spec_and_options(tmp_path, capsys):
    assert isinstance(make_policy("random-paper"), PaperRandomPolicy)
    assert make_policy("random-paper").config() == {"name": "random-paper"}
    with pytest.raises(PolicyError, match="takes no options"):
        make_policy("random-paper", x=1)
    assert main(["eval", "VLMGym/2048-v0", "--policy", "random-paper", "--temperature", "0.5",
                 "--out", str(tmp_path / "x")]) == 2
    assert "do not apply to 'random-paper'" in capsys.readouterr().err


def _config(out):
    return json.loads((out / "config.json").read_text())


def test_protocol_paper_plays_random_paper_for_random_and_records_it(tmp_path):
    quiet = ["--no-video", "--no-curves", "--no-html", "--no-progress"]
    out = tmp_path / "paper"
    assert main(["eval", "VLMGym/Swap-v0", "--policy", "random", "--protocol", "paper", "--out", str(out), *quiet]) == 0
    cfg = _config(out)
    assert cfg["identity"]["policy"] == "random-paper" and cfg["policy"] == {"name": "random-paper"}
    assert cfg["protocol"]["policies"] == {"random": "random-paper"}
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    pairs = [(r1, c1, r2, c2) for (r1, c1), (r2, c2) in (s["action"] for s in steps)]
    assert len(pairs) == 1000 and _stats(pairs)[0] < 0.15  # mostly non-adjacent pairs, as the original
    # resuming with the same command line maps the same way (no identity mismatch)
    assert main(["eval", "--resume", "--out", str(out), "--policy", "random", "--protocol", "paper", *quiet]) == 0
    custom = tmp_path / "custom"
    assert main(["eval", "VLMGym/Swap-v0", "--policy", "random", "--runs", "2", "--steps", "3",
                 "--out", str(custom), *quiet]) == 0
    assert _config(custom)["identity"]["policy"] == "random"
    assert _config(custom)["protocol"]["policies"] == {}
