"""Swap (match-3): the batched rules against the readable reference in tests/reference."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import assume, given
from hypothesis import strategies as st

import vlmgym  # noqa: F401
from reference import swap_ref as ref
from vlmgym import GameState, StateError
from vlmgym.games import swap as swapmod
from vlmgym.games.swap import Swap, find_lines, valid_swap_mask

A, B, C = 0, 1, 2


# -- strategies ------------------------------------------------------------------------------------
@st.composite
def games(draw, max_side: int = 8) -> Swap:
    rows, cols = draw(st.integers(3, max_side)), draw(st.integers(3, max_side))
    colors, shapes = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    assume(colors * shapes >= 3)
    return Swap(rows=rows, cols=cols, colors=colors, shapes=shapes)


@st.composite
def boards(draw, max_side: int = 8, max_types: int = 5) -> np.ndarray:
    """Arbitrary full boards (lines allowed); few types so lines and swaps are common."""
    rows, cols = draw(st.integers(3, max_side)), draw(st.integers(3, max_side))
    t = draw(st.integers(2, max_types))
    cells = draw(st.lists(st.integers(0, t - 1), min_size=rows * cols, max_size=rows * cols))
    return np.array(cells, dtype=np.uint8).reshape(rows, cols)


@st.composite
def line_free_boards(draw, max_side: int = 8) -> np.ndarray:
    """Boards without a line, drawn cell by cell among the types that complete none."""
    rows, cols = draw(st.integers(3, max_side)), draw(st.integers(3, max_side))
    t = draw(st.integers(3, 6))
    board: list[list[int | None]] = [[None] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            banned = ref.forbidden_types(board, r, c)
            board[r][c] = draw(st.sampled_from([x for x in range(t) if x not in banned]))
    return np.array(board, dtype=np.uint8)


seeds = st.integers(0, 2**64 - 1)


def batch_of(game: Swap, boards_: list[np.ndarray], streams: list[int]) -> dict[str, np.ndarray]:
    b = game.new_batch(len(boards_))
    b["board"][:] = np.stack(boards_)
    b["rng"][:] = np.array(streams, dtype=np.uint64)
    return b


def state_of(game: Swap, board: list[list[int]], stream: int = 1) -> GameState:
    arrays = {"board": np.array(board, dtype=np.uint8), "rng": np.uint64(stream), "score": np.int64(0),
              "steps": np.int64(0), "successes": np.int64(0)}
    return GameState("swap", game.rules, arrays)


# -- lines and the valid-swap enumeration ------------------------------------------------------------
@given(boards())
def test_find_lines_matches_reference(board):
    matched, windows, lines = find_lines(board[None])
    want = ref.find_lines(board.tolist())
    cells = {cell for line in want for cell in line}
    assert {tuple(map(int, rc)) for rc in np.argwhere(matched[0])} == cells
    assert int(lines[0]) == len(want)
    assert int(windows[0] - lines[0]) == sum(len(line) - 3 for line in want)


@given(boards(max_types=6))
def test_valid_swap_enumeration_is_exact(board):
    mask = valid_swap_mask(board[None])[0]
    assert mask.tolist() == ref.valid_swaps(board.tolist())


@given(line_free_boards())
def test_on_line_free_boards_valid_means_the_swap_creates_a_line(board):
    mask = valid_swap_mask(board[None])[0]
    rows, cols = board.shape
    for k, (a, b) in enumerate(ref.all_swaps(rows, cols)):
        assert bool(mask[k]) == bool(ref.find_lines(ref.swapped(board.tolist(), a, b))), (a, b)


@given(games(), st.lists(st.tuples(*[st.integers(-2, 9)] * 4), max_size=30))
def test_index_space_round_trips_and_rejects_non_adjacent_pairs(game, quads):
    everything = np.arange(game.num_actions)
    pairs = game.decode(everything)
    assert np.array_equal(game.encode(pairs), everything)
    assert np.array_equal(game.encode(pairs[:, [2, 3, 0, 1]]), everything)  # either order
    assert [((int(r1), int(c1)), (int(r2), int(c2))) for r1, c1, r2, c2 in pairs] == \
        ref.all_swaps(game.rows, game.cols)
    for q in quads:
        (r1, c1, r2, c2) = q
        inside = all(0 <= r < game.rows for r in (r1, r2)) and all(0 <= c < game.cols for c in (c1, c2))
        adjacent = abs(r1 - r2) + abs(c1 - c2) == 1
        index = int(game.encode(np.array([q]))[0])
        assert (index >= 0) == (inside and adjacent)
        if index >= 0:
            assert sorted([(r1, c1), (r2, c2)]) == sorted(map(tuple, game.decode(np.array([index]))[0]
                                                            .reshape(2, 2).tolist()))


# -- dealing -------------------------------------------------------------------------------------------
@given(games(), st.lists(seeds, min_size=1, max_size=4))
def test_deal_matches_reference_and_gives_a_playable_board(game, streams):
    b = game.new_batch(len(streams))
    b["rng"][:] = np.array(streams, dtype=np.uint64)
    game.deal(b)
    for i, s in enumerate(streams):
        stream = ref.Stream(s)
        want = ref.deal(stream, game.rows, game.cols, game.num_types)
        assert b["board"][i].tolist() == want
        assert int(b["rng"][i]) == stream.state
        assert not ref.find_lines(want) and any(ref.valid_swaps(want))
        assert max(max(row) for row in want) < game.num_types


@pytest.mark.parametrize("rows", range(3, 17))
def test_last_resort_board_is_playable_at_every_size(rows, monkeypatch):
    for cols in range(3, 17):
        board = ref.chessboard_blocks(rows, cols)
        assert not ref.find_lines(board) and any(ref.valid_swaps(board))
    # with no deal attempt allowed, a deal falls back to it, and so does a reshuffle of a board
    # whose every rearrangement has a line (one type only)
    monkeypatch.setattr(swapmod, "FILL_ATTEMPTS", 0)
    game = Swap(rows=rows, cols=5)
    b = game.new_batch(2)
    b["rng"][:] = [3, 4]
    game.deal(b)
    assert b["board"].tolist() == [ref.chessboard_blocks(rows, 5)] * 2
    one_type = np.zeros((2, rows, 5), dtype=np.uint8)
    assert game._reshuffle(one_type, b["rng"]).tolist() == [ref.chessboard_blocks(rows, 5)] * 2
    assert ref.reshuffle(one_type[0].tolist(), ref.Stream(3), game.num_types) == \
        (ref.chessboard_blocks(rows, 5), False)


@given(games(max_side=6), boards(max_side=6), st.lists(seeds, min_size=1, max_size=3))
def test_reshuffle_matches_reference_and_keeps_the_tiles(game, shape_board, streams):
    rows, cols = shape_board.shape
    game = Swap(rows=rows, cols=cols, colors=game.colors, shapes=game.shapes)
    board = shape_board % game.num_types
    new = game._reshuffle(np.stack([board] * len(streams)), np.array(streams, dtype=np.uint64).copy())
    for i, s in enumerate(streams):
        want, kept = ref.reshuffle(board.tolist(), ref.Stream(s), game.num_types)
        assert new[i].tolist() == want
        assert not ref.find_lines(want) and any(ref.valid_swaps(want))
        if kept:
            assert sorted(np.ravel(want).tolist()) == sorted(board.ravel().tolist())


def test_reshuffle_redeals_when_no_rearrangement_is_playable():
    game = Swap(rows=3, cols=3, colors=3, shapes=3)  # 9 types, one tile each: never a valid swap
    board = np.arange(9, dtype=np.uint8).reshape(1, 3, 3)
    rng = np.array([5], dtype=np.uint64)
    new = game._reshuffle(board, rng)
    stream = ref.Stream(5)
    stream.words(swapmod.RESHUFFLE_TRIES * 9)
    assert new[0].tolist() == ref.deal(stream, 3, 3, 9) and int(rng[0]) == stream.state
    assert ref.reshuffle(board[0].tolist(), ref.Stream(5), 9) == (new[0].tolist(), False)


def test_reshuffle_of_a_paper_board_usually_keeps_its_tiles():
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=200, obs_mode="text")
    vec.reset(seed=0)
    boards = vec.engine.batch["board"].copy()
    new = vec.game._reshuffle(boards, vec.engine.batch["rng"].copy())
    same_tiles = [sorted(a.ravel().tolist()) == sorted(b.ravel().tolist()) for a, b in zip(boards, new)]
    assert sum(same_tiles) >= 195 and not np.array_equal(new, boards)


# -- steps ---------------------------------------------------------------------------------------------
def check_step(game, before, after, out, i, action):
    """Compare env ``i`` of a batched step with the reference from the same stream."""
    stream = ref.Stream(int(before["rng"][i]))
    a, b = (int(action[0]), int(action[1])), (int(action[2]), int(action[3]))
    want = ref.step(before["board"][i].tolist(), stream, a, b, game.num_types)
    board = after["board"][i]
    assert board.tolist() == want.board
    assert int(after["rng"][i]) == stream.state
    assert bool(out.legal[i]) == want.legal == bool(out.success[i])
    assert int(out.gain[i]) == want.gain
    assert int(out.info["tiles_removed"][i]) == want.tiles_removed
    assert int(out.info["cascades"][i]) == want.cascades
    assert int(out.info["reshuffles"][i]) == int(want.reshuffled)
    if not want.legal:  # nothing changes, not even the random stream
        assert np.array_equal(board, before["board"][i]) and after["rng"][i] == before["rng"][i]
    # no line survives, a valid swap always exists, every cell holds a real tile
    assert board.shape == (game.rows, game.cols) and int(board.max()) < game.num_types
    assert not ref.find_lines(board.tolist()) and any(ref.valid_swaps(board.tolist()))


def pick_actions(game, data, board_batch):
    """Per env: a valid swap, an adjacent pair, or four arbitrary numbers (often off the board)."""
    mask = valid_swap_mask(board_batch)
    acts = []
    for m in mask:
        kind = data.draw(st.sampled_from(["valid", "valid", "adjacent", "anything"]))
        if kind == "valid":
            acts.append(game.decode(np.array([data.draw(st.sampled_from(np.flatnonzero(m).tolist()))]))[0])
        elif kind == "adjacent":
            row = game.decode(np.array([data.draw(st.integers(0, game.num_actions - 1))]))[0]
            acts.append(row[[2, 3, 0, 1]] if data.draw(st.booleans()) else row)
        else:
            acts.append(np.array(data.draw(st.tuples(*[st.integers(-3, 10)] * 4))))
    return np.array(acts, dtype=np.int64)


@given(games(), st.lists(seeds, min_size=1, max_size=3), st.data())
def test_steps_match_reference_with_the_same_draws(game, streams, data):
    b = game.new_batch(len(streams))
    b["rng"][:] = np.array(streams, dtype=np.uint64)
    game.deal(b)
    for _ in range(5):
        actions = pick_actions(game, data, b["board"])
        active = np.array([data.draw(st.booleans()) or len(streams) == 1 for _ in streams])
        before = {k: v.copy() for k, v in b.items()}
        out = game.apply(b, actions, active)
        for i in range(len(streams)):
            if active[i]:
                check_step(game, before, b, out, i, actions[i])
            else:
                assert np.array_equal(b["board"][i], before["board"][i]) and b["rng"][i] == before["rng"][i]
                assert not out.legal[i] and out.gain[i] == 0


@given(line_free_boards(max_side=6), seeds, st.data())
def test_steps_from_arbitrary_positions_match_reference(board, stream, data):
    assume(any(ref.valid_swaps(board.tolist())))
    game = Swap(rows=board.shape[0], cols=board.shape[1], colors=max(int(board.max()) + 1, 3), shapes=1)
    b = batch_of(game, [board], [stream])
    for _ in range(4):
        actions = pick_actions(game, data, b["board"])
        before = {k: v.copy() for k, v in b.items()}
        out = game.apply(b, actions, np.ones(1, dtype=bool))
        check_step(game, before, b, out, 0, actions[0])


def test_cascade_cap_reshuffles_a_board_that_still_has_lines(monkeypatch):
    # Three types cascade often; with a cap of one round the leftover lines must be reshuffled away.
    monkeypatch.setattr(swapmod, "MAX_CASCADE_ROUNDS", 1)
    game = Swap(rows=6, cols=6, colors=3, shapes=1)
    n = 40
    b = game.new_batch(n)
    b["rng"][:] = np.arange(n, dtype=np.uint64) * 977 + 13
    game.deal(b)
    capped = 0
    for step in range(6):
        mask = valid_swap_mask(b["board"])
        actions = game.decode(np.array([np.flatnonzero(m)[step % m.sum()] for m in mask]))
        before = {k: v.copy() for k, v in b.items()}
        out = game.apply(b, actions, np.ones(n, dtype=bool))
        for i in range(n):
            check_step(game, before, b, out, i, actions[i])
            stream = ref.Stream(int(before["rng"][i]))
            a, c = tuple(map(int, actions[i, :2])), tuple(map(int, actions[i, 2:]))
            long_run = ref.step(before["board"][i].tolist(), stream, a, c, 3, max_rounds=100)
            capped += long_run.cascades > 0
    assert capped > 0 and out.info["cascades"].max() == 0


def test_score_table_line_of_four_and_binary_reward():
    game = Swap(rows=4, cols=5, colors=3, shapes=1)
    board = [[A, A, B, A, C],
             [B, C, A, B, A],
             [C, A, B, C, B],
             [A, B, C, A, C]]
    answer = "<answer>(1, 2) (0, 2)</answer>"  # row 0 becomes A A A A C: 4 tiles + 1 bonus
    quiet = cascading = 0
    for stream in range(40):
        for mode in ("score", "binary"):
            env = gym.make("VLMGym/Swap-v0", rows=4, cols=5, colors=3, shapes=1, reward_mode=mode,
                           obs_mode="text")
            env.reset(seed=0)
            env.unwrapped.set_state(state_of(game, board, stream))
            _, reward, terminated, truncated, info = env.step(answer)
            assert info["action_status"] == "ok" and not terminated and not truncated
            want = ref.step(board, ref.Stream(stream), (1, 2), (0, 2), 3)
            assert info["gain"] == want.gain and info["tiles_removed"] == want.tiles_removed
            if mode == "binary":
                assert reward == 1.0
                continue
            assert reward == info["gain"]
            if info["cascades"] == 0:
                quiet += 1
                assert info["gain"] == 5 and info["tiles_removed"] == 4
            else:
                cascading += 1
                assert info["gain"] >= 5 + 2 * (info["tiles_removed"] - 4)  # later rounds count x2+
    assert quiet and cascading


def test_crossing_lines_count_each_tile_once():
    game = Swap(rows=5, cols=5, colors=4, shapes=1)
    D = 3
    board = [[B, C, A, D, B],
             [C, D, A, B, C],
             [A, A, B, A, D],
             [D, B, C, D, B],
             [B, C, D, B, C]]
    assert not ref.find_lines(board)
    b = batch_of(game, [np.array(board, dtype=np.uint8)], [0])
    # A at (2, 3) moves left into (2, 2): row 2 gets A A A, column 2 gets A A A - five tiles
    for stream in range(60):
        b["board"][0], b["rng"][0] = board, stream
        out = game.apply(b, np.array([[2, 3, 2, 2]]), np.ones(1, dtype=bool))
        if out.info["cascades"][0] == 0:
            assert out.gain[0] == 5 and out.info["tiles_removed"][0] == 5
            return
    pytest.fail("no stream without a cascade")


# -- the env contract ----------------------------------------------------------------------------------
def test_illegal_swaps_are_reported_and_change_nothing():
    env = gym.make("VLMGym/Swap-v0", obs_mode="text")
    _, info = env.reset(seed=4)
    game = env.unwrapped.game
    mask = game.legal_mask(env.unwrapped.engine.batch)[0]
    not_matching = game.decode(np.flatnonzero(~mask)[:1])[0]
    answers = ["<answer>(0, 0) (2, 0)</answer>", "<answer>(0, 0) (1, 1)</answer>",
               "<answer>(3, 3) (3, 3)</answer>", "<answer>(7, 7) (7, 8)</answer>",
               "<answer>(-1, 0) (0, 0)</answer>", "<answer>(100, 100) (100, 101)</answer>",
               "<answer>({}, {}) ({}, {})</answer>".format(*not_matching)]
    for text in answers:
        before = env.unwrapped.get_state()
        _, reward, terminated, truncated, info = env.step(text)
        after = env.unwrapped.get_state()
        assert info["action_status"] == "illegal" and reward == -1.0, text
        assert not terminated and not truncated
        assert np.array_equal(after["board"], before["board"]) and after["rng"] == before["rng"]
        assert info["gain"] == 0 and info["tiles_removed"] == 0 and info["reshuffles"] == 0
    _, reward, _, _, info = env.step("no idea")
    assert info["action_status"] == "unparsable" and reward == -1.0


def test_episode_never_terminates_and_truncates_after_100_steps():
    env = gym.make("VLMGym/Swap-v0", action_mode="index", obs_mode="text")
    assert env.spec.max_episode_steps == 100
    _, info = env.reset(seed=0)
    for k in range(1, 101):
        action = int(np.flatnonzero(info["action_mask"])[0])
        _, reward, terminated, truncated, info = env.step(action)
        assert reward == 1.0 and not terminated and info["end_reason"] is None
        assert truncated == (k == 100)
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=2, obs_mode="text")
    assert vec.max_episode_steps == 100


def test_snapshots_round_trip_and_reject_impossible_boards():
    env = gym.make("VLMGym/Swap-v0", action_mode="index", obs_mode="text", rows=5, cols=7,
                   colors=["Steel blue", "Pink"], shapes=["star", "hexagon"])
    _, info = env.reset(seed=9)
    for _ in range(3):
        _, _, _, _, info = env.step(int(np.flatnonzero(info["action_mask"])[-1]))
    snap = env.unwrapped.get_state()
    back = GameState.from_bytes(snap.to_bytes())
    assert back == snap and dict(back.rules) == {"rows": 5, "cols": 7, "colors": ["Steel blue", "Pink"],
                                                 "shapes": ["star", "hexagon"]}
    futures = []
    for _ in range(2):
        env.unwrapped.set_state(back)
        futures.append([env.step(a)[4]["board_text"] for a in (0, 5, 9, 20, 33)])
    assert futures[0] == futures[1]
    board = np.array(snap["board"])
    line = board.copy()
    line[0, :3] = line[0, 0]
    too_big = board.copy()
    too_big[1, 1] = 4
    for bad, why in ((line, "line of three"), (too_big, "only 4 types"),
                     (ref.chessboard_blocks(5, 7), None)):
        state = GameState("swap", snap.rules, dict(snap.arrays, board=np.array(bad, dtype=np.uint8)))
        if why is None:  # the last-resort pattern is a legal position
            assert GameState.from_bytes(state.to_bytes()) == state
            continue
        with pytest.raises(StateError, match=why):
            GameState.from_bytes(state.to_bytes())
    for rules, why in (({**snap.rules, "colors": ["Pink"], "shapes": ["star"]}, "at least 3 tile types"),
                       ({**snap.rules, "colors": ["steel blue", "Pink"]}, "canonical form"),
                       ({**snap.rules, "rows": 40}, "rows must be an integer from 3 to 16"),
                       ({"rows": 5, "cols": 7}, "colors")):
        with pytest.raises(StateError, match=why):
            GameState.from_bytes(GameState("swap", rules, snap.arrays).to_bytes())
    stuck = np.array([[(r + 2 * c) % 4 for c in range(7)] for r in range(5)], dtype=np.uint8)
    assert not ref.find_lines(stuck.tolist()) and not any(ref.valid_swaps(stuck.tolist()))
    with pytest.raises(StateError, match="no valid swap"):
        GameState.from_bytes(GameState("swap", snap.rules, dict(snap.arrays, board=stuck)).to_bytes())


def test_score_equals_stepping_restored_copies_on_a_small_board():
    kw = {"rows": 4, "cols": 6, "colors": 3, "shapes": 1, "obs_mode": "text"}  # cascades are common
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=3, **kw)
    vec.reset(seed=21)
    game = vec.game
    states, answers = [], []
    for s in vec.get_states():
        legal = np.flatnonzero(game.legal_mask(vec.engine.stack([s]))[0])
        for pick in [*legal[:3], 0, 1]:
            (r1, c1), (r2, c2) = game.from_array(game.decode(np.array([pick]))[0])
            states.append(s)
            answers.append(f"<answer>({r2}, {c2}) ({r1}, {c1})</answer>")
    live = [s.to_bytes() for s in vec.get_states()]
    rewards, infos = vec.score(states, answers, return_states=True)
    assert [s.to_bytes() for s in vec.get_states()] == live
    single = gym.make("VLMGym/Swap-v0", **kw)
    single.reset(seed=0)
    for i, (s, a) in enumerate(zip(states, answers)):
        single.unwrapped.set_state(s)
        _, r, _, _, info = single.step(a)
        assert r == rewards[i] and info["action_status"] == infos["action_status"][i]
        assert info["cascades"] == infos["cascades"][i] and info["reshuffles"] == infos["reshuffles"][i]
        assert single.unwrapped.get_state() == infos["next_state"][i]


def test_seeded_determinism_and_batch_independence():
    def run(seed):
        vec = gym.make_vec("VLMGym/Swap-v0", num_envs=4, obs_mode="text", action_mode="index",
                           rows=6, cols=6, colors=3, shapes=2)
        obs, info = vec.reset(seed=seed)
        trail = [obs]
        rng = np.random.default_rng(0)
        for _ in range(15):
            acts = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
            obs, rew, _, _, info = vec.step(acts)
            trail.append((obs, rew.tolist(), info["cascades"].tolist(), info["tiles_removed"].tolist()))
        return trail, vec.get_states()

    first, states = run(7)
    again, states_again = run(7)
    assert first == again and states == states_again
    assert run(8)[0] != first
    for i in range(4):  # env i of a batch is the single env seeded with seed + i
        env = gym.make("VLMGym/Swap-v0", obs_mode="text", rows=6, cols=6, colors=3, shapes=2)
        obs, _ = env.reset(seed=7 + i)
        assert obs == first[0][i]


@pytest.mark.parametrize("obs_mode", ["image", "text", "image+text"])
@pytest.mark.parametrize("action_mode", ["text", "index"])
def test_check_env_on_a_non_default_board(obs_mode, action_mode):
    for reward_mode in ("binary", "score"):
        env = gym.make("VLMGym/Swap-v0", rows=4, cols=5, colors=["Red", "Navy"],
                       shapes=["circle", "star"], obs_mode=obs_mode, action_mode=action_mode,
                       reward_mode=reward_mode, cell_px=28)
        check_env(env.unwrapped, skip_render_check=False)
        env.close()


@pytest.mark.parametrize("kwargs,match", [
    ({"rows": 2}, "rows must be an integer from 3 to 16"),
    ({"cols": 17}, "cols must be an integer from 3 to 16"),
    ({"rows": 8.0}, "rows must be"),
    ({"cols": True}, "cols must be"),
    ({"colors": 1, "shapes": 2}, "at least 3 tile types"),
    ({"colors": ["Red"], "shapes": ["circle"]}, "at least 3 tile types"),
    ({"colors": ["Red", "Mauve"]}, "unknown color 'Mauve'"),
    ({"shapes": 0}, "number of shapes"),
    ({"colors": 17}, "number of colors"),
])
def test_impossible_configurations_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Swap(**kwargs)
    with pytest.raises(ValueError, match=match):
        gym.make("VLMGym/Swap-v0", **kwargs)


def test_board_text_prompt_and_pixels():
    env = gym.make("VLMGym/Swap-v0", rows=3, cols=4, colors=["Steel blue", "Dark green"],
                   shapes=["pentagon", "circle"], cell_px=28, render_mode="rgb_array")
    game = env.unwrapped.game
    board = [[0, 1, 2, 3], [3, 0, 0, 1], [1, 2, 3, 2]]
    env.reset(seed=0)
    env.unwrapped.set_state(state_of(game, board))
    text, image = env.unwrapped.board_text(), env.render()
    assert text == (
        "Steel blue pentagon | Steel blue circle | Dark green pentagon | Dark green circle\n"
        "Dark green circle | Steel blue pentagon | Steel blue pentagon | Steel blue circle\n"
        "Steel blue circle | Dark green pentagon | Dark green circle | Dark green pentagon")
    assert len(text) <= game.text_max_length()
    atlas = game.sprites(28)
    assert atlas.shape == (5, 28, 28, 3)
    for r in range(3):
        for c in range(4):
            assert np.array_equal(image[28 * r: 28 * r + 28, 28 * c: 28 * c + 28], atlas[board[r][c] + 1])
    for mode in ("image", "text", "image+text"):
        prompt = game.prompt(mode)
        assert "Dark green circle" in prompt and "<answer>(2, 1) (2, 2)</answer>" in prompt
        assert "(row, column)" in prompt and "' | '" in prompt


def test_random_play_statistics_are_sane():
    # Fresh boards: no line, a valid swap, a few valid swaps on average (the paper: about 3.7 with
    # plain random boards; planting one swap adds about one); random index play rarely succeeds.
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=64, obs_mode="text", action_mode="index")
    _, info = vec.reset(seed=0)
    counts = info["action_mask"].sum(axis=1)
    assert counts.min() >= 1 and 3 <= counts.mean() <= 8
    vec.random_steps(30)
    states = vec.get_states()
    assert sum(s["successes"] for s in states) < 0.2 * 30 * 64
    for s in states:
        assert not ref.find_lines(s["board"].tolist()) and any(ref.valid_swaps(s["board"].tolist()))


def test_frame_memory_is_recycled_only_after_every_view_of_it_is_gone():
    # 64 frames of 448x448 are 38.5 MB: the renderer recycles such buffers instead of asking the
    # kernel for fresh zeroed pages every step, but never while any array still shows them.
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=4)
    vec.reset(seed=0)
    renderer, game = vec.engine.renderer, vec.game
    ids = game.sprite_ids(vec.engine.batch)
    other = np.roll(ids, 1, axis=0)

    def address(a):
        return a.__array_interface__["data"][0]

    first = renderer.compose(ids)
    where, view, want = address(first), first[2], first[2].copy()
    del first
    second = renderer.compose(other)  # the view still shows the first buffer: fresh memory
    assert address(second) != where and np.array_equal(view, want)
    assert np.array_equal(second, renderer.compose(other, out=np.empty_like(second)))
    del view
    third = renderer.compose(other)  # now nothing shows it: reused, and brought up to date
    assert address(third) == where and np.array_equal(third, second)
    assert not third.flags.writeable and third.flags.c_contiguous and third.dtype == np.uint8
