"""Sokoban: the batched rules, the room generation and the solver against the readable reference in
tests/reference; the env contract; and the game through `vlmgym eval`, `vlmgym play` and its docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vlmgym
from reference import sokoban_ref as ref
from vlmgym import GameState, StateError
from vlmgym.games import sokoban as sok
from vlmgym.games.sokoban import Sokoban, greedy_move, next_move, plan

IDS = ["VLMGym/Sokoban-v0", "VLMGym/Sokoban7x7-v0", "VLMGym/Sokoban8x8-v0"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "games" / "sokoban.md"


def room_of(text: str) -> list[list[int]]:
    """A room from its board text (the symbols of the docs)."""
    code = {s: i for i, s in enumerate(sok.SYMBOLS)}
    return [[code[ch] for ch in line] for line in text.strip().split("\n")]


def clear_solver_cache() -> None:
    sok._NEXT.clear()
    sok._STATUS.clear()


# -- strategies ------------------------------------------------------------------------------------
@st.composite
def shapes(draw, max_side: int = 7, max_boxes: int = 3) -> tuple[int, int, int]:
    rows, cols = draw(st.integers(5, max_side)), draw(st.integers(5, max_side))
    return rows, cols, draw(st.integers(1, min(max_boxes, cols - 2)))


@st.composite
def rooms(draw, shape: tuple[int, int, int] | None = None, max_side: int = 7, max_boxes: int = 3):
    """Any loadable position: walls anywhere inside the ring, boxes and the player on distinct cells,
    targets anywhere else that is not a wall (under a box or the player too)."""
    rows, cols, k = shape or draw(shapes(max_side, max_boxes))
    inside = [(r, c) for r in range(1, rows - 1) for c in range(1, cols - 1)]
    cells = draw(st.permutations(inside))
    player, boxes = cells[0], cells[1:1 + k]
    targets = draw(st.lists(st.sampled_from(inside), min_size=k, max_size=k, unique=True))
    rest = cells[1 + k:]
    wall_bits = draw(st.lists(st.booleans(), min_size=len(rest), max_size=len(rest)))
    ring = {(r, c) for r in range(rows) for c in range(cols) if (r, c) not in inside}
    walls = ring | {cell for cell, w in zip(rest, wall_bits) if w and cell not in targets}
    return ref.assemble(ref.Parts(rows, cols, walls, set(targets), set(boxes), player))


seeds = st.integers(0, 2**64 - 1)


def batch_of(game: Sokoban, boards: list, scores=None) -> dict[str, np.ndarray]:
    b = game.new_batch(len(boards))
    b["board"][:] = np.array(boards, dtype=np.uint8)
    b["rng"][:] = np.arange(len(boards), dtype=np.uint64) * 12345 + 1
    if scores is not None:
        b["score"][:] = scores
    return b


# -- rules against the reference -------------------------------------------------------------------
@given(st.data())
def test_moves_masks_ends_and_text_match_the_reference(data):
    shape = data.draw(shapes())
    boards = [data.draw(rooms(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    deadlock_ends = data.draw(st.booleans())
    game = Sokoban(*shape, end_on_deadlock=deadlock_ends)
    batch = batch_of(game, boards, [data.draw(st.integers(0, 2)) for _ in boards])
    rng_before = batch["rng"].copy()
    for _ in range(6):
        rooms_now = batch["board"].tolist()
        assert game.legal_mask(batch).tolist() == [ref.legal_moves(r) for r in rooms_now]
        over, reason = game.is_over(batch)
        assert reason.tolist() == [ref.end_reason(r, deadlock_ends) for r in rooms_now]
        assert over.tolist() == [ref.end_reason(r, deadlock_ends) is not None for r in rooms_now]
        assert [game.board_text(batch, i) for i in range(len(boards))] == [ref.board_text(r) for r in rooms_now]
        d = np.array([[data.draw(st.integers(-1, 4))] for _ in boards], dtype=np.int64)
        active = np.array([data.draw(st.booleans()) for _ in boards])
        scores = batch["score"].copy()
        out = game.apply(batch, d, active)
        for i, room in enumerate(rooms_now):
            want = ref.move(room, int(d[i, 0]), int(scores[i])) if active[i] else ref.MoveResult(room, False, False, 0)
            assert batch["board"][i].tolist() == want.room
            assert bool(out.legal[i]) == want.legal == bool(out.success[i])
            assert bool(out.info["pushed"][i]) == want.pushed and int(out.gain[i]) == want.gain
            assert int(out.info["boxes_on_target"][i]) == sum(v == sok.BOX_ON_TARGET for row in want.room for v in row)
        batch["score"] += out.gain  # what the engine does; the score never goes below 0
        for i in range(len(boards)):  # every successor of a loadable position loads
            Sokoban.validate_state(game.rules, {k: v[i] for k, v in batch.items()})
    assert np.array_equal(batch["rng"], rng_before)  # moves never draw


@given(st.data())
def test_check_values_accepts_exactly_the_loadable_positions(data):
    shape = data.draw(shapes(max_side=6))
    room = data.draw(rooms(shape))
    if data.draw(st.booleans()):  # break it, or not, at one cell
        r, c = data.draw(st.integers(0, shape[0] - 1)), data.draw(st.integers(0, shape[1] - 1))
        room[r][c] = data.draw(st.integers(0, 9))
    game = Sokoban(*shape)
    arrays = {"board": np.array(room, dtype=np.uint8), "rng": np.uint64(1), "score": np.int64(0),
              "steps": np.int64(0), "successes": np.int64(0)}
    state = GameState("sokoban", game.rules, arrays)
    if ref.valid_room(room, shape[2]):
        assert GameState.from_bytes(state.to_bytes()) == state
    else:
        with pytest.raises(StateError):
            GameState.from_bytes(state.to_bytes())


# -- room generation ---------------------------------------------------------------------------------
@settings(max_examples=20)
@given(shapes(max_side=8), st.integers(1, 40), st.lists(seeds, min_size=1, max_size=3))
def test_deal_matches_the_reference_and_every_room_is_a_fresh_solvable_puzzle(shape, depth, streams):
    rows, cols, k = shape
    game = Sokoban(rows, cols, k, search_depth=depth)
    b = game.new_batch(len(streams))
    b["rng"][:] = np.array(streams, dtype=np.uint64)
    game.deal(b)
    for i, s in enumerate(streams):
        stream = ref.Stream(s)
        room = ref.deal(stream, rows, cols, k, depth)
        assert b["board"][i].tolist() == room and int(b["rng"][i]) == stream.state
        assert ref.valid_room(room, k)
        assert ref.end_reason(room) is None and ref.end_reason(room, False) is None  # not solved, not stuck
        flat = [v for row in room for v in row]
        assert sok.BOX_ON_TARGET not in flat and sok.PLAYER_ON_TARGET not in flat  # as gym-sokoban's rooms
        if room == ref.fallback_room(rows, cols, k):
            continue
        if rows * cols <= 49 and k <= 2:  # small enough for the plain search
            solution = ref.shortest_solution(room)
        else:
            clear_solver_cache()
            solution = plan(np.array(room, dtype=np.uint8)).moves
        assert solution is not None and 1 <= len(solution) <= depth  # reverse play of <= depth moves


def test_fallback_room_is_a_playable_puzzle_at_every_size(monkeypatch):
    for rows in range(sok.MIN_SIDE, sok.MAX_SIDE + 1):
        for cols in range(sok.MIN_SIDE, sok.MAX_SIDE + 1):
            for k in range(1, min(sok.MAX_BOXES, cols - 2) + 1):
                room = sok.fallback_room(rows, cols, k)
                assert room.tolist() == ref.fallback_room(rows, cols, k) and ref.valid_room(room.tolist(), k)
                assert ref.end_reason(room.tolist()) is None
    clear_solver_cache()
    assert len(plan(sok.fallback_room(5, 7, 3)).moves) == ref.shortest_solution(ref.fallback_room(5, 7, 3)).__len__()
    monkeypatch.setattr(sok, "GEN_ROUNDS", 0)  # no attempt allowed: every deal falls back
    game = Sokoban(rows=5, cols=5, boxes=3)
    b = game.new_batch(2)
    b["rng"][:] = [3, 4]
    game.deal(b)
    assert b["board"].tolist() == [ref.fallback_room(5, 5, 3)] * 2 and b["rng"].tolist() == [3, 4]


def test_generation_statistics_of_the_presets():
    """Measured, documented in docs/games/sokoban.md: rooms need a few moves and the fallback is rare."""
    for env_id, (lo, hi) in zip(IDS, [(3, 9), (6, 13), (9, 17)]):
        vec = gym.make_vec(env_id, num_envs=48, obs_mode="text")
        vec.reset(seed=0)
        clear_solver_cache()
        game = vec.game
        fallback = sok.fallback_room(game.rows, game.cols, game.boxes)
        lengths = [len(plan(s["board"]).moves) for s in vec.get_states()]
        assert lo <= np.mean(lengths) <= hi and max(lengths) <= 100, (env_id, np.mean(lengths))
        assert sum(np.array_equal(s["board"], fallback) for s in vec.get_states()) <= 1
        vec.close()


# -- the solver ----------------------------------------------------------------------------------------
@settings(max_examples=40)
@given(rooms(max_side=6, max_boxes=2))
def test_plan_is_the_first_shortest_solution_and_the_same_from_every_position_on_it(room):
    clear_solver_cache()
    board = np.array(room, dtype=np.uint8)
    found = plan(board)
    want = ref.shortest_solution(room)
    if want is None:
        assert found.moves is None and found.status == "unsolvable"
        move = next_move(board)
        assert move == -1 if not any(ref.legal_moves(room)) else ref.legal_moves(room)[move]
        return
    assert found.moves == want and found.status == "solved"
    position = room
    for i, move in enumerate(want):  # the cache only saves time: a fresh search agrees at every step
        clear_solver_cache()
        assert plan(np.array(position, dtype=np.uint8)).moves == want[i:]
        assert next_move(np.array(position, dtype=np.uint8)) == move
        position = ref.move(position, move).room


@settings(max_examples=40)
@given(rooms(max_side=7, max_boxes=3), st.integers(1, 60))
def test_a_search_budget_gives_up_the_same_way_wherever_it_is_asked(room, limit):
    clear_solver_cache()
    board = np.array(room, dtype=np.uint8)
    found = plan(board, limit)
    full = plan(board)
    if found.status == "solved":
        assert found.moves == full.moves  # within the budget the search is exact
        position = room
        for i, move in enumerate(found.moves):  # positions along it fit the budget too
            clear_solver_cache()
            assert plan(np.array(position, dtype=np.uint8), limit).moves == found.moves[i:]
            position = ref.move(position, move).room
    else:
        assert found.moves is None and found.status in ("budget", "unsolvable")
    legal = ref.legal_moves(room)
    move = next_move(board, limit)
    assert (move == -1) == (not any(legal)) and (move == -1 or legal[move])
    greedy = greedy_move(board)
    assert greedy == greedy_move(board) and ((greedy == -1) == (not any(legal))) and (greedy == -1 or legal[greedy])


def test_greedy_fallback_pushes_a_box_toward_its_target():
    room = room_of("""
########
#P_____#
#__X___#
#______#
#____O_#
########""")
    board = np.array(room, dtype=np.uint8)
    assert plan(board, limit=2).status == "budget"
    position, pushes = room, 0
    for _ in range(40):  # the greedy walk solves this open room on its own
        move = greedy_move(np.array(position, dtype=np.uint8))
        out = ref.move(position, move)
        assert out.legal
        position, pushes = out.room, pushes + out.pushed
        if ref.end_reason(position) == "solved":
            break
    assert ref.end_reason(position) == "solved" and pushes == 4  # 2 down, 2 right: no push wasted


def test_oracle_solves_every_room_of_the_presets_in_the_fewest_moves():
    for env_id in IDS:
        vec = gym.make_vec(env_id, num_envs=6, obs_mode="text", action_mode="index", autoreset_mode="disabled")
        vec.reset(seed=5)
        clear_solver_cache()
        need = [len(plan(s["board"]).moves) for s in vec.get_states()]
        score = [None] * 6
        for t in range(1, max(need) + 1):
            playing = np.array([x is None for x in score])
            _, _, term, _, info = vec.step(vec.solve(vec.get_states()))
            assert (info["action_status"][playing] == "ok").all()
            for i in np.flatnonzero(playing):
                assert term[i] == (t == need[i])  # solved exactly when the plan says
                if term[i]:
                    assert info["end_reason"][i] == "solved"
                    score[i] = int(info["score"][i])
        assert score == [vec.game.boxes + sok.SOLVED_BONUS] * 6  # every box onto a target once, +10
        vec.close()


# -- the env contract --------------------------------------------------------------------------------
TWO_BOXES = """
#######
##_#__#
#PX#O_#
#X__O_#
#_____#
#######"""


def env_at(text: str, score: int = 0, **kwargs):
    room = room_of(text)
    rows, cols = len(room), len(room[0])
    boxes = sum(v in (3, 4) for row in room for v in row)
    env = gym.make("VLMGym/Sokoban-v0", rows=rows, cols=cols, boxes=boxes, obs_mode="text", **kwargs)
    env.reset(seed=0)
    state = env.unwrapped.make_state(board=room, score=score)
    env.reset(options={"state": state})
    return env


def test_illegal_moves_change_nothing_and_pushes_follow_the_rules():
    env = env_at(TWO_BOXES, end_on_deadlock=True)
    for answer in ("<answer>up</answer>", "<answer>left</answer>", "<answer>1</answer>"):  # wall; box into wall
        before = env.unwrapped.get_state()
        _, reward, terminated, truncated, info = env.step(answer)
        assert info["action_status"] == "illegal" and reward == -1.0 and not terminated and not truncated
        assert env.unwrapped.get_state()["board"].tolist() == before["board"].tolist()
        assert env.unwrapped.get_state()["rng"] == before["rng"] and info["gain"] == 0 and not info["pushed"]
    _, reward, _, _, info = env.step("I push the box, <answer>Down</answer>")
    assert info["action"] == 2 and info["action_status"] == "ok" and reward == 1.0 and info["pushed"]
    assert info["board_text"] == "#######\n##_#__#\n#_X#O_#\n#P__O_#\n#X____#\n#######"
    assert info["end_reason"] == "deadlock"  # a box in a corner that is not a target
    _, reward, _, _, info = env.step("no idea")
    assert info["action_status"] == "unparsable" and reward == -1.0
    env = env_at(TWO_BOXES)  # the default: RAGEN's and VAGEN's episodes go on
    _, _, terminated, _, info = env.step("<answer>down</answer>")
    assert not terminated and info["end_reason"] is None
    env = env_at("""
#######
#PXX_O#
#____O#
#_____#
#######""")
    _, reward, _, _, info = env.step("<answer>right</answer>")  # a box into a box
    assert info["action_status"] == "illegal" and reward == -1.0


def test_score_mode_counts_boxes_on_targets_and_the_solved_bonus():
    room = """
#######
#_P___#
#_X_X_#
#_O_O_#
#_____#
#######"""
    moves = ["<answer>down</answer>", "<answer>up</answer>", "<answer>right</answer>", "<answer>right</answer>",
             "<answer>down</answer>"]
    for mode, want in (("score", [1.0, 0.0, 0.0, 0.0, 11.0]), ("binary", [1.0] * 5)):
        env = env_at(room, reward_mode=mode)
        steps = [env.step(m) for m in moves]
        assert [s[1] for s in steps] == want and [s[4]["gain"] for s in steps] == [1, 0, 0, 0, 11]
        assert [s[2] for s in steps] == [False] * 4 + [True] and steps[-1][4]["end_reason"] == "solved"
        assert steps[0][4]["boxes_on_target"] == 1 and steps[-1][4]["boxes_on_target"] == 2
    state = env.unwrapped.get_state()
    assert env.unwrapped.is_terminal(state) and int(state["score"]) == 2 + sok.SOLVED_BONUS
    # a box pushed off its target costs a point, but never more than the score holds
    for score, want in ((1, -1), (0, 0)):
        env = env_at("""
######
#_P__#
#_V__#
#____#
#____#
######""", score=score, reward_mode="score")
        _, reward, _, _, info = env.step("<answer>down</answer>")
        assert info["gain"] == want and reward == want and info["score"] == score + want


def test_episodes_end_when_solved_stuck_or_after_100_steps():
    env = env_at("""
#####
#P#_#
#X__#
#O__#
#####""")
    _, _, terminated, _, info = env.step("<answer>down</answer>")
    assert terminated and info["end_reason"] == "solved"
    stuck = env.unwrapped.make_state(board=room_of("""
#####
#P#O#
###X#
#___#
#####"""))
    assert env.unwrapped.is_terminal(stuck) and not env.unwrapped.legal_actions(stuck).any()
    for env_id in IDS:
        assert gym.spec(env_id).kwargs["max_episode_steps"] == 100  # the step budget on the state's steps
        assert gym.make(env_id).spec.max_episode_steps == 100
    env = gym.make("VLMGym/Sokoban-v0", action_mode="index", obs_mode="text")
    _, info = env.reset(seed=0)
    for k in range(1, 101):  # the first allowed move, again and again: the room is not solved
        _, _, terminated, truncated, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
        assert not terminated and truncated == (k == 100)


@pytest.mark.parametrize("kwargs,match", [
    ({"rows": 4}, "rows must be an integer from 5 to 16"),
    ({"cols": 17}, "cols must be an integer from 5 to 16"),
    ({"rows": 6.0}, "rows must be an integer"),
    ({"boxes": 0}, "boxes must be an integer from 1 to 4"),
    ({"cols": 5, "boxes": 4}, "boxes must be an integer from 1 to 3"),
    ({"cols": 12, "boxes": 7}, "boxes must be an integer from 1 to 6"),
    ({"boxes": True}, "boxes must be an integer"),
    ({"search_depth": 0}, "search_depth must be an integer from 1 to 300"),
    ({"search_depth": 301}, "search_depth must be an integer from 1 to 300"),
    ({"end_on_deadlock": 1}, "end_on_deadlock must be True or False"),
])
def test_bad_arguments_raise_value_errors_naming_the_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Sokoban(**kwargs)
    with pytest.raises(ValueError, match=match):
        gym.make("VLMGym/Sokoban-v0", **kwargs)


def test_snapshots_refuse_impossible_rooms_and_rules():
    env = env_at(TWO_BOXES)
    snap = env.unwrapped.get_state()
    board = np.array(snap["board"])
    for change, why in (((0, 3, sok.FLOOR), "outer ring"), ((1, 2, sok.PLAYER), "exactly one player"),
                        ((1, 2, sok.BOX), "2 boxes and 2 targets"), ((2, 4, sok.FLOOR), "2 boxes and 2 targets"),
                        ((2, 2, 7), "cell codes are 0..6")):
        bad = board.copy()
        bad[change[0], change[1]] = change[2]
        with pytest.raises(StateError, match=why):
            GameState.from_bytes(GameState("sokoban", snap.rules, dict(snap.arrays, board=bad)).to_bytes())
    for rules, why in (({**snap.rules, "end_on_deadlock": 1}, "end_on_deadlock"),
                       ({**snap.rules, "boxes": 9}, "boxes must be"), ({"rows": 5, "cols": 7}, "boxes")):
        with pytest.raises(StateError, match=why):
            GameState.from_bytes(GameState("sokoban", rules, snap.arrays).to_bytes())
    # the search depth is not a rule: a state loads into an env generating rooms differently
    other = gym.make("VLMGym/Sokoban-v0", rows=6, cols=7, boxes=2, search_depth=7, obs_mode="text")
    other.reset(options={"state": snap})
    assert other.unwrapped.get_state() == snap


def test_make_state_takes_a_gym_sokoban_room_and_board_text_is_exact():
    # gym-sokoban's room_state codes, with RAGEN's 6 for the player on a target
    room_state = [[0, 0, 0, 0, 0, 0], [0, 1, 2, 0, 0, 0], [0, 1, 4, 1, 1, 0], [0, 3, 1, 6, 4, 0],
                  [0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0]]
    env = gym.make("VLMGym/Sokoban-v0", boxes=3, obs_mode="text")
    env.reset(seed=0)
    state = env.unwrapped.make_state(board=room_state)
    assert env.unwrapped.board_text(state) == "######\n#_O###\n#_X__#\n#V_SX#\n#____#\n######"
    assert len(env.unwrapped.board_text(state)) <= env.unwrapped.game.text_max_length()


def test_prompt_and_pixels():
    env = env_at(TWO_BOXES, render_mode="rgb_array", cell_px=28)
    game = env.unwrapped.game
    image = env.render()
    atlas = game.sprites(28)
    assert atlas.shape == (7, 28, 28, 3) and len({a.tobytes() for a in atlas}) == 7
    for r, row in enumerate(room_of(TWO_BOXES)):
        for c, code in enumerate(row):
            assert np.array_equal(image[28 * r: 28 * r + 28, 28 * c: 28 * c + 28], atlas[code])
    for mode in ("image", "text", "image+text"):
        prompt = game.prompt(mode)
        assert "'V' box on a target" in prompt and "<answer>up</answer>" in prompt and "<perception>" in prompt
        assert "(row, column)" in prompt and "rows go 0 to 5" in prompt
    assert "corner" not in game.prompt("image") and "corner" in Sokoban(end_on_deadlock=True).prompt("image")
    assert game.format_answer(3) == "left" and game.parse("<answer>2</answer>").action == 2


def test_explain_describes_the_plan(monkeypatch):
    env = env_at("""
#######
#P____#
#__X__#
#_____#
#___O_#
#######""")
    game, state = env.unwrapped.game, env.unwrapped.get_state()
    clear_solver_cache()
    e = game.explain(state, env.unwrapped.board_text(), None, None)
    assert e.think == (
        "The player is at (1, 1). Boxes: (2, 3). Targets: (4, 4).\n"
        "A breadth-first search over the positions of the player and the boxes finds a shortest solution"
        " of 7 moves:\n"
        "- walk right, right to (1, 3)\n"
        "- push the box at (2, 3) down 2 times, to (4, 3)\n"
        "- walk left, down to (4, 2)\n"
        "- push the box at (4, 3) right once, to (4, 4), onto the target\n"
        "So I move right.")
    assert e.answer == "right" and e.action == 1 == next_move(state["board"])
    # without a plan (budget, or a room that cannot be solved any more) it says so and still moves
    stuck = env_at("""
#######
#P____#
#____X#
#_____#
#___O_#
#######""")
    e = game.explain(stuck.unwrapped.get_state(), stuck.unwrapped.board_text(), None, None)
    assert "No sequence of pushes brings every box onto a target" in e.think and e.answer in ("right", "down")
    monkeypatch.setattr(sok, "SOLVER_MAX_STATES", 2)  # beyond the budget: the greedy move, said so
    clear_solver_cache()
    e = game.explain(state, env.unwrapped.board_text(), None, None)
    assert "too many positions to search them all (more than 2)" in e.think
    assert e.action == greedy_move(state["board"]) == int(game.solve({"board": state["board"][None]})[0])
    clear_solver_cache()


def test_sampler_takes_fresh_rooms():
    samples = vlmgym.sample_states("VLMGym/Sokoban7x7-v0", n=6, seed=0, obs_mode="text")
    assert vlmgym.game_class("sokoban").sampler_steps == 0
    for state, text in zip(samples.states, samples.info["board_text"]):
        assert int(state["steps"]) == 0 and "V" not in text and text.count("X") == 2


# -- through the tools -------------------------------------------------------------------------------
def test_vlmgym_eval_with_videos_and_report(tmp_path):
    from vlmgym.cli import main
    from vlmgym.eval.runner import read_jsonl

    out = tmp_path / "ev"
    assert main(["eval", "VLMGym/Sokoban-v0", "--policy", "oracle", "--runs", "2", "--steps", "20",
                 "--out", str(out), "--no-progress"]) == 0
    records = read_jsonl(out / "steps.jsonl")
    assert {r["status"] for r in records} == {"ok"} and {r["action"] for r in records} <= {0, 1, 2, 3}
    assert "solved" in {r["end_reason"] for r in records}
    summary = json.loads((out / "summary.json").read_text())
    g = summary["games"]["VLMGym/Sokoban-v0"]
    solved = [sum(r["end_reason"] == "solved" for r in records if r["run"] == run) for run in range(2)]
    assert g["metric"] == "score_gain" and g["per_run"]["metric"] == [11.0 * k for k in solved]  # one box: +1 +10
    assert min(solved) >= 1
    assert len(list((out / "videos").iterdir())) == 2 and (out / "report.html").stat().st_size > 1000


def test_play_session_keys_push_and_undo():
    from vlmgym.play import PlaySession

    s = PlaySession("VLMGym/Sokoban-v0", seed=0)
    assert s.answer_for_key("up") == "<answer>up</answer>" and s.answer_for_key("a") == "<answer>left</answer>"
    assert s.answer_for_key("space") is None and "arrow keys" in s.help
    before = s.board_text()
    legal = np.flatnonzero(s.core.legal_actions())
    info = s.play(s.answer_for_key(("up", "right", "down", "left")[legal[0]]))
    assert info["action_status"] == "ok" and s.moves == 1 and s.board_text() != before
    assert s.undo() and s.board_text() == before
    s.close()


def test_docs_page_code_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), {})
