"""The game plug-in surface: user ids, the public env API (positions, legal moves, layout, frame
counter), rules holding tuples, Gymnasium's HumanRendering, and the "Add a game" docs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vlmgym
from example_games import EXAMPLE, lights_out, small_2048
from vlmgym import GameState, StateError
from vlmgym.cli import main
from vlmgym.eval import EvalConfig, evaluate

DOCS = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _section(title: str) -> str:
    text = DOCS.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end >= 0 else len(text)]


def _blocks(section: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


# -- docs ------------------------------------------------------------------------------------------
def test_add_a_game_docs_are_the_example_file_and_it_passes_the_check():
    section = _section("Add a game")
    blocks = _blocks(section)
    assert blocks[0] == EXAMPLE.read_text()  # the documented file is exactly the tested one
    assert 'vlmgym.register_env("Example/LightsOut-v0"' in blocks[0]
    module = lights_out()
    exec(blocks[1].replace("import lights_out", ""), {"lights_out": module})  # runs check_game
    assert vlmgym.is_vlmgym_id("Example/LightsOut-v0") and "Example/LightsOut-v0" not in vlmgym.registered_ids()


def test_positions_docs_run_as_written():
    (block,) = _blocks(_section("Positions, legal moves and the board layout"))
    ns = {"gym": gym, "vlmgym": vlmgym}
    exec(block, ns)
    env = ns["env"]
    assert env.is_terminal(ns["state"]) and not env.legal_actions(ns["state"]).any()
    assert env.board_text() == " 2 | 4 | 2 | 4 \n 4 | 2 | 4 | 2 \n 2 | 4 | 2 | 4 \n 4 | 2 | 4 | 2 "


# -- user ids ----------------------------------------------------------------------------------------
def test_user_id_is_a_vlmgym_id_and_others_are_not():
    env_id = small_2048()
    assert vlmgym.is_vlmgym_id(env_id) and env_id not in vlmgym.registered_ids()
    assert env_id in vlmgym.registered_ids(include_user=True)
    assert set(vlmgym.ENV_IDS) <= set(vlmgym.registered_ids())
    assert not vlmgym.is_vlmgym_id("CartPole-v1") and not vlmgym.is_vlmgym_id("Nope/Nope-v0")
    with pytest.raises(ValueError, match="unknown env id 'CartPole-v1'; registered ids"):
        vlmgym.require_vlmgym_id("CartPole-v1")
    with pytest.raises(ValueError, match="name of a registered game"):
        vlmgym.register_env("Mine/Bad-v0", game="")
    # an entry point given as the class (or a subclass) counts too
    gym.register("Mine/ByClass-v0", entry_point=vlmgym.VLMGymEnv, vector_entry_point=vlmgym.VLMGymVectorEnv,
                 kwargs={"game": "2048", "size": 3})
    assert vlmgym.is_vlmgym_id("Mine/ByClass-v0")
    gym.register("Mine/SingleOnly-v0", entry_point="vlmgym.envs.single:VLMGymEnv", kwargs={"game": "2048"})
    assert not vlmgym.is_vlmgym_id("Mine/SingleOnly-v0")  # without the native vector env it is not


def test_user_id_through_eval_glob_paper_protocol_and_report(tmp_path):
    env_id = small_2048()
    res = evaluate(EvalConfig(["Mine/Small*"], policy="random", protocol="paper", out=str(tmp_path / "ev"),
                              video=False, curves=False, progress=False, runs=10, steps=100))
    game = res.summary["games"][env_id]
    assert list(res.summary["games"]) == [env_id]
    assert game["metric"] == "score_gain" and game["warmup_steps"] == 100  # declared by the game
    assert game["stats"]["metric"]["mean"] > 0
    config = json.loads((tmp_path / "ev" / "config.json").read_text())
    assert config["games"][env_id]["env_kwargs"]["size"] == 3
    # the oracle (the game's own solver) and the videos (cells and captions from the codec)
    lights_out()
    res = evaluate(EvalConfig([env_id, "Example/LightsOut-v0"], policy="oracle", runs=2, steps=4,
                              out=str(tmp_path / "oracle"), curves=False, progress=False))
    assert res.summary["games"]["Example/LightsOut-v0"]["metric"] == "successes"
    assert len(list((tmp_path / "oracle" / "videos").iterdir())) == 4


def test_cli_list_all_and_import(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_ids.py").write_text(textwrap.dedent('''
        import vlmgym
        vlmgym.register_env("Mine/Listed-v0", game="swap", rows=5, cols=5)
    '''))
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 0
    plain = capsys.readouterr().out
    assert "VLMGym/2048-v0" in plain and "Mine/" not in plain
    assert main(["list", "--all", "--import", "my_ids"]) == 0
    listed = capsys.readouterr().out
    assert "Mine/Listed-v0" in listed and "'rows': 5" in listed
    assert main(["list", "--import", "no_such_module_xyz"]) == 2
    assert "--import no_such_module_xyz" in capsys.readouterr().err


def test_user_game_through_play_session():
    from vlmgym.play import PlaySession

    lights_out()
    s = PlaySession("Example/LightsOut-v0", seed=0)
    assert "click a light" in s.message and s.answer_for_key("left") is None
    x0, y0, _, _ = s.core.layout.cell_box(2, 3)
    answer = s.click(x0 + 1, y0 + 1)
    assert answer == "<answer>(2, 3)</answer>"
    info = s.play(answer)
    assert info["action"] == (2, 3) and info["action_status"] == "ok"
    s.close()


# -- positions, legal moves, layout ------------------------------------------------------------------
def test_make_state_is_validated_like_from_bytes():
    env = gym.make("VLMGym/2048-v0", obs_mode="text").unwrapped
    env.reset(seed=3)
    board = [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0]]
    a, b = env.make_state(board=board), env.make_state(board=board)
    assert a["board"].dtype == np.uint8 and a["board"].tolist() == board
    assert (int(a["score"]), int(a["steps"]), int(a["successes"])) == (0, 0, 0)
    assert a["rng"] != b["rng"]  # a fresh stream each time
    c = env.make_state(board=board, rng=12345, score=8)
    assert int(c["rng"]) == 12345 and int(c["score"]) == 8
    assert GameState.from_bytes(c.to_bytes()) == c
    obs, info = env.reset(options={"state": c})
    assert obs == info["board_text"] and info["score"] == 8
    for kwargs, match in [({}, "needs \\['board'\\]"), ({"board": board, "tiles": 1}, "no field"),
                          ({"board": [[300] * 4] * 4}, "values must be in 0..255"),
                          ({"board": [[0.5] * 4] * 4}, "must hold uint8"),
                          ({"board": [[1] * 3] * 3}, "shape"), ({"board": [[40] * 4] * 4}, "exponent"),
                          ({"board": board, "steps": -2}, "must be in 0.."), ({"board": board, "rng": -1}, "uint64")]:
        with pytest.raises(StateError, match=match):
            env.make_state(**kwargs)


def test_vector_make_state_legal_masks_terminal_and_solve():
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=2, obs_mode="text")
    vec.reset(seed=0)
    stuck = vec.make_state(board=[[1, 2, 1, 2], [2, 1, 2, 1], [1, 2, 1, 2], [2, 1, 2, 1]])
    open_ = vec.make_state(board=[[1, 1, 0, 0]] + [[0] * 4] * 3)
    masks = vec.legal_masks([stuck, open_])
    assert masks.tolist() == [[False] * 4, [False, True, True, True]]
    assert vec.terminal([stuck, open_]).tolist() == [True, False]
    assert vec.solve([stuck, open_]).tolist()[0] == -1 and vec.solve([open_])[0] in (1, 3)
    assert np.array_equal(vec.legal_masks(), vec.legal_masks(vec.get_states()))
    swap = gym.make_vec("VLMGym/Swap-v0", num_envs=1, obs_mode="text")
    swap.reset(seed=0)
    assert swap.solve(swap.get_states()) is None  # no solver: the oracle takes the best move by score


def test_layout_is_where_the_frames_put_the_cells():
    env = gym.make("VLMGym/Swap-v0", show_coords=True, hud=True, cell_px=28).unwrapped
    obs, _ = env.reset(seed=0)
    layout = env.layout
    assert obs.shape == layout.image_shape == (28 * 8 + 56, 28 * 8 + 28, 3)
    assert layout.origin == (28, 56) and layout.cell_box(0, 0) == (28, 56, 56, 84)
    assert layout.cell_at(28, 56) == (0, 0) and layout.cell_at(27, 56) is None
    assert layout.cell_at(*layout.cell_box(7, 7)[:2]) == (7, 7) and layout.cell_at(28 * 9 + 1, 60) is None
    # the pixels of a cell's box are that cell's sprite
    state = env.get_state()
    atlas = env.game.sprites(28)
    ids = env.game.sprite_ids({"board": state["board"][None]})[0]
    for r, c in [(0, 0), (3, 5), (7, 7)]:
        x0, y0, x1, y1 = layout.cell_box(r, c)
        assert np.array_equal(obs[y0:y1, x0:x1], atlas[ids[r, c]])
    fit = gym.make("VLMGym/2048-v0", image_size="paper").unwrapped.layout  # 4x4 cells, HUD on
    assert fit.image_shape == (840, 640, 3) and fit.cell_px == 160
    assert fit.cell_box(0, 0) == (0, 114, 160, 274)  # centred: (840 - 28 - 640) // 2 above the HUD
    assert fit.cell_at(0, 114) == (0, 0) and fit.cell_at(639, 113) is None


def test_frames_composed_counts_frames():
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=3)
    vec.reset(seed=0)
    assert vec.frames_composed == 3
    vec.random_steps(5)
    vec.step(["x"] * 3)
    assert vec.frames_composed == 6
    text = gym.make_vec("VLMGym/Swap-v0", num_envs=3, obs_mode="text")
    text.reset(seed=0)
    text.step(["x"] * 3)
    assert text.frames_composed == 0
    sampled = vlmgym.sample_states("VLMGym/Swap-v0", 4, seed=0)
    assert sampled.frames_composed == 4


def test_rules_holding_a_tuple_restore_their_own_snapshots():
    module = lights_out()
    game = module.LightsOut(rows=3, cols=4)
    assert game.rules["shape"] == (3, 4)  # a tuple in the game's rules...
    env = vlmgym.VLMGymEnv(game, obs_mode="text")
    env.reset(seed=0)
    state = env.get_state()
    assert state.rules["shape"] == [3, 4]  # ...a list in the JSON-normalised snapshot
    env.step("(0, 0)")
    env.set_state(state)  # the engine compares like with like
    assert env.get_state() == state
    back = GameState.from_bytes(state.to_bytes())
    env.reset(options={"state": back})
    vec = vlmgym.VLMGymVectorEnv(game, num_envs=2, obs_mode="text")
    vec.set_states([back, back])
    rewards, infos = vec.score([back], ["(1, 1)"], return_states=True)
    vec.set_states(infos["next_state"] * 2)
    other = vlmgym.VLMGymEnv(module.LightsOut(rows=4, cols=3), obs_mode="text")
    with pytest.raises(StateError, match="rules"):
        other.set_state(state)


# -- human rendering ----------------------------------------------------------------------------------
def test_human_rendering_is_gymnasiums_wrapper():
    pytest.importorskip("pygame")
    from gymnasium.wrappers import HumanRendering
    from gymnasium.wrappers.vector import HumanRendering as VectorHumanRendering

    with pytest.warns(UserWarning, match="HumanRendering wrapper is being applied"):
        env = gym.make("VLMGym/2048-v0", render_mode="human")
    assert isinstance(env, HumanRendering) and env.unwrapped.render_mode == "rgb_array"
    env.reset(seed=0)
    env.step("<answer>1</answer>")
    env.close()
    assert vlmgym.VLMGymEnv.metadata["render_modes"] == ["rgb_array"]
    with pytest.raises(ValueError, match="HumanRendering"):
        vlmgym.VLMGymEnv("2048", render_mode="human")
    with pytest.raises(ValueError, match="gymnasium.wrappers.vector.HumanRendering"):
        gym.make_vec("VLMGym/2048-v0", num_envs=2, render_mode="human")
    pytest.importorskip("cv2")  # Gymnasium's vector HumanRendering resizes with OpenCV
    vec = VectorHumanRendering(gym.make_vec("VLMGym/2048-v0", num_envs=4, render_mode="rgb_array"))
    vec.reset(seed=0)
    vec.step(["<answer>1</answer>"] * 4)
    vec.close()


def test_check_env_with_render_check_needs_no_pygame():
    code = textwrap.dedent("""
        import sys
        sys.modules["pygame"] = None  # a core-only install: importing pygame fails
        import gymnasium as gym
        from gymnasium.utils.env_checker import check_env
        import vlmgym
        for env_id in ("VLMGym/2048-v0", "VLMGym/Swap-v0", "VLMGym/Shisensho-v0"):
            check_env(gym.make(env_id, render_mode="rgb_array").unwrapped, skip_render_check=False)
            check_env(gym.make(env_id).unwrapped, skip_render_check=False)
        try:
            import pygame
        except ImportError:
            print("ok without pygame")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok without pygame"


def test_videos_outline_the_cells_the_codec_names_and_caption_its_description():
    from vlmgym.eval.annotate import describe_action, mark_cells, outline_boxes

    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=1, show_coords=True)
    layout, codec = vec.layout, vec.game.codec
    frame = np.zeros(layout.image_shape, dtype=np.uint8)
    action = codec.from_json([[1, 2], [9, 9]])  # the second cell is off the board: skipped
    mark_cells(frame, outline_boxes(layout, codec, codec.to_json(action)), (255, 0, 0))
    x0, y0, x1, y1 = layout.cell_box(1, 2)
    assert (frame[y0, x0:x1] == (255, 0, 0)).all() and (frame[y1 - 1, x0:x1] == (255, 0, 0)).all()
    assert not frame[y0 + 10, x0 + 10].any() and frame.any(axis=2).sum() < 4 * (x1 - x0) * 3
    record = {"status": "ok", "action": [[1, 2], [1, 3]]}
    assert describe_action(record, codec) == "(1, 2) (1, 3)"
    direction = gym.make_vec("VLMGym/2048-v0", num_envs=1).game.codec
    assert describe_action({"status": "ok", "action": 3}, direction) == "3 (left)"
    assert describe_action({"status": "unparsable", "action": None}, direction) == "unparsable answer"
    assert direction.cells(3) == []  # nothing to outline for a direction
