"""Built-in policies (random, random-legal, oracle), make_policy, `vlmgym play` logic and `vlmgym bench`."""

from __future__ import annotations

import json
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest

import vlmgym
from vlmgym.cli import main
from vlmgym.eval import EvalConfig, PolicyError, Query, RandomPolicy, evaluate, make_policy
from vlmgym.eval.oracle import OraclePolicy
from vlmgym.eval.policies import query_seed
from vlmgym.games.game2048 import expectimax_2048

IDS = sorted(vlmgym.ENV_IDS)


def _queries(env_id, env_kwargs_for, n=4, seed=0, k=5):
    vec = gym.make_vec(env_id, num_envs=n, **env_kwargs_for.get(env_id, {}))
    obs, info = vec.reset(seed=seed)
    vec.random_steps(k)
    obs, info = vec.observe()
    states = vec.get_states()
    qs = [Query(env_id, i, 1, info["prompt"][i], obs[i], None, query_seed(seed, env_id, i, 1), states[i], vec)
          for i in range(n)]
    return vec, qs


@pytest.mark.parametrize("env_id", IDS)
def test_random_answers_are_valid_and_random_legal_answers_are_legal(env_id, env_kwargs_for):
    vec, qs = _queries(env_id, env_kwargs_for, n=6)
    for legal_only in (False, True):
        answers = RandomPolicy(legal_only)(qs)
        assert answers == RandomPolicy(legal_only)(qs)  # per-query seeds: reproducible
        _, info = vec.score([q.state for q in qs], answers)
        assert "unparsable" not in set(info["action_status"])
        if legal_only:
            assert set(info["action_status"]) == {"ok"}
    # uniform over the whole action space: a batch of many queries covers several actions
    many = [Query(env_id, 0, s, "", None, seed=query_seed(0, env_id, 0, s), state=qs[0].state, env=vec)
            for s in range(40)]
    assert len(set(RandomPolicy()(many))) > 1


@pytest.mark.parametrize("env_id", IDS)
def test_oracle_moves_are_legal_and_beat_random(env_id, env_kwargs_for, tmp_path):
    vec, qs = _queries(env_id, env_kwargs_for)
    answers = OraclePolicy()(qs)
    assert answers == OraclePolicy()(qs)  # deterministic
    _, info = vec.score([q.state for q in qs], answers)
    assert set(info["action_status"]) == {"ok"}
    metric = {}
    for policy in ("random", "oracle"):
        res = evaluate(EvalConfig([env_id], policy=policy, runs=3, steps=20, out=str(tmp_path / policy),
                                  env_kwargs=env_kwargs_for.get(env_id, {}), video=False, curves=False,
                                  progress=False))
        metric[policy] = res.summary["games"][env_id]["stats"]["metric"]["mean"]
    assert metric["oracle"] > metric["random"], metric


def test_expectimax_prefers_merges_and_never_plays_an_illegal_move():
    game = vlmgym.game_class("2048")(size=4)
    boards = np.zeros((3, 4, 4), dtype=np.uint8)
    boards[0, 0, :2] = [3, 3]           # 8 8 in the top row: left or right merges
    boards[1, :, 0] = [1, 2, 3, 4]      # a full, unmergeable left column: left and right...
    boards[1, 0, 1] = 5                 # ...leave only the moves that change something
    boards[2] = np.array([[1, 2, 1, 2], [2, 1, 2, 1], [1, 2, 1, 2], [2, 1, 2, 1]])  # no legal move
    picks = expectimax_2048(game, boards)
    assert picks[0] in (1, 3) and picks[2] == -1
    legal = game.legal_mask({"board": boards})
    assert legal[1, picks[1]]


def test_make_policy_specs():
    assert make_policy("random").name == "random" and make_policy("random-legal").legal_only
    assert make_policy("oracle", max_candidates=5).max_candidates == 5
    with pytest.raises(PolicyError, match="takes no options"):
        make_policy("random", foo=1)
    with pytest.raises(PolicyError, match="needs a model"):
        make_policy("openai:")
    with pytest.raises(PolicyError, match="has no attribute"):
        make_policy("vlmgym.eval.policies:nothing_here")
    with pytest.raises(PolicyError, match="not a vlmgym.eval.Policy subclass"):
        make_policy("collections:OrderedDict")
    with pytest.raises(PolicyError, match="file .* not found"):
        make_policy("/no/such/file.py:f")
    if "vllm" not in sys.modules:
        try:
            import vllm  # noqa: F401
        except ImportError:
            with pytest.raises(PolicyError, match="vllm serve"):
                make_policy("vllm:some/model")


# -- vlmgym play ---------------------------------------------------------------------------------
def test_play_session_keys_clicks_undo():
    from vlmgym.play import PlaySession, cell_at

    s = PlaySession("VLMGym/2048-v0", seed=0)
    assert s.answer_for_key("left") == "<answer>3</answer>" and s.answer_for_key("w") == "<answer>0</answer>"
    assert s.answer_for_key("space") is None
    before = s.board_text()
    legal = np.flatnonzero(s.core.legal_actions())
    s.play(f"<answer>{legal[0]}</answer>")
    assert s.moves == 1 and s.board_text() != before and "ok" in s.message
    assert s.undo() and s.board_text() == before and not s.undo()
    assert "Rules" in s.prompt
    r = s.core.layout
    assert cell_at(r.board_x + 1, r.board_y + 1, r) == (0, 0)
    assert cell_at(2 * (r.board_x + r.cell_px * 2 + 1), 2 * (r.board_y + r.cell_px + 1), r, scale=2) == (1, 2)
    assert cell_at(r.board_x - 1, r.board_y, r) is None
    assert cell_at(r.board_x + r.cols * r.cell_px, r.board_y, r) is None
    assert s.click(r.board_x + 1, r.board_y + 1) is None and "arrow keys" in s.message
    s.close()


@pytest.mark.parametrize("env_id", [i for i in IDS if vlmgym.game_class(vlmgym.ENV_IDS[i][0]["game"]).codec.kind == "pair"])
def test_play_clicks_make_pair_answers(env_id, env_kwargs_for):
    from vlmgym.play import PlaySession

    s = PlaySession(env_id, seed=0, **env_kwargs_for.get(env_id, {}))
    r = s.core.layout
    xy = lambda row, col: (r.board_x + col * r.cell_px + 2, r.board_y + row * r.cell_px + 2)  # noqa: E731
    assert s.click(*xy(0, 0)) is None and s.selected == (0, 0)
    assert s.click(*xy(0, 0)) is None and s.selected is None  # same tile again: deselect
    s.click(*xy(1, 2))
    answer = s.click(*xy(1, 3))
    assert answer == "<answer>(1, 2) (1, 3)</answer>"
    info = s.play(answer)
    assert info["action"] == ((1, 2), (1, 3)) and s.moves == 1
    s.close()


@pytest.mark.parametrize("env_id", [i for i in IDS if vlmgym.game_class(vlmgym.ENV_IDS[i][0]["game"]).codec.kind == "cell"])
def test_play_clicks_make_cell_answers(env_id, env_kwargs_for):
    from vlmgym.play import PlaySession

    s = PlaySession(env_id, seed=0, **env_kwargs_for.get(env_id, {}))
    codec, r = s.codec, s.core.layout
    xy = lambda row, col: (r.board_x + col * r.cell_px + 2, r.board_y + row * r.cell_px + 2)  # noqa: E731
    for button in (1, 3):  # left: the first verb, right: the second
        answer = s.click(*xy(1, 2), button=button)
        assert answer == f"<answer>{codec.format(codec.click_action([(1, 2)], button))}</answer>"
    info = s.play(answer)
    assert info["action_status"] == "ok" and codec.cells(info["action"]) == [(1, 2)] and s.moves == 1
    s.close()


@pytest.mark.parametrize("env_id", ["VLMGym/2048-v0", "VLMGym/Sokoban-v0"])  # the direction games
def test_play_window_loop_headless(monkeypatch, env_id):
    pygame = pytest.importorskip("pygame")
    from vlmgym.play import PlaySession, run_window

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    s = PlaySession(env_id, seed=0)
    legal = [d for d, ok in enumerate(s.core.legal_actions()) if ok]
    keys = {0: pygame.K_UP, 1: pygame.K_RIGHT, 2: pygame.K_DOWN, 3: pygame.K_LEFT}
    for k in (keys[legal[0]], pygame.K_p, pygame.K_t):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k))
    run_window(s, max_frames=2)
    assert s.moves == 1
    s.close()


def test_play_without_pygame_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pygame", None)
    assert main(["play", "VLMGym/2048-v0"]) == 2
    assert "pip install 'vlmgym[play]'" in capsys.readouterr().err
    assert main(["play", "VLMGym/2048-v0", "VLMGym/2048-v0"]) == 2


# -- vlmgym bench --------------------------------------------------------------------------------
def test_bench_runs_every_script_and_reports_failures(tmp_path, capfd):
    d = tmp_path / "benchmarks"
    d.mkdir()
    (d / "bench_a.py").write_text('print("### A\\n\\n| measurement | value | target |\\n|---|---|---|")\n')
    (d / "bench_b.py").write_text(textwrap.dedent("""
        import sys
        print("### B")
        sys.exit(1)
    """))
    (d / "helper.py").write_text("raise SystemExit('not a benchmark')\n")
    assert main(["bench", "--dir", str(d), "--list"]) == 0
    listed = capfd.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in listed] == ["bench_a.py", "bench_b.py"]
    assert main(["bench", "--dir", str(d), "-k", "a"]) == 0
    assert "| measurement | value | target |" in capfd.readouterr().out
    assert main(["bench", "--dir", str(d)]) == 1
    captured = capfd.readouterr()
    assert "### A" in captured.out and "### B" in captured.out and "failed: bench_b.py" in captured.err
    assert main(["bench", "--dir", str(d), "-k", "zzz"]) == 2


def test_bench_finds_the_repository_benchmarks(capfd):
    assert main(["bench", "--list"]) == 0
    names = [p.rsplit("/", 1)[-1] for p in capfd.readouterr().out.split()]
    assert "bench_eval.py" in names and all(n.startswith("bench_") for n in names)


def test_eval_summary_json_is_plain_json(tmp_path, env_kwargs_for):
    ids = [i for i in IDS if not env_kwargs_for.get(i)]
    res = evaluate(EvalConfig(ids, runs=2, steps=3, out=str(tmp_path / "e"), video=False, curves=False,
                              progress=False))
    assert json.loads(json.dumps(res.summary)) == res.summary


@pytest.mark.parametrize("env_id", IDS)
def test_png_encoding_round_trips_every_board(env_id, env_kwargs_for):
    import io

    from PIL import Image

    from vlmgym.eval.policies import encode_png

    vec, qs = _queries(env_id, env_kwargs_for, n=2)
    png = qs[0].png()
    assert png is qs[0].png()  # encoded once per observation
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        assert np.array_equal(np.asarray(img), qs[0].image)
    noise = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(noise)))), noise)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(noise.astype(np.float32))


def test_play_without_a_display_says_so(monkeypatch, capsys):
    pygame = pytest.importorskip("pygame")
    pygame.display.quit()
    monkeypatch.setenv("SDL_VIDEODRIVER", "no-such-video-driver")
    assert main(["play", "VLMGym/2048-v0"]) == 2
    err = capsys.readouterr().err
    assert "cannot open a window" in err and "needs a display" in err
