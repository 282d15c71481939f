"""Cold-start data: oracle examples verified by the env, the reasoning helpers held to the game
rules, deterministic and resumable builds, and the API teacher against a real loopback server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vlmgym
from conftest import BASE_IDS
from vlmgym.core.answer import extract_block, format_ok, perception_exact

pytest.importorskip("datasets")

from vlmgym.games.game2048 import _line_merges, _lines  # noqa: E402
from vlmgym.games.minesweeper import analyse as minesweeper_analyse  # noqa: E402
from vlmgym.games.shisensho import pair_path  # noqa: E402
from vlmgym.games.sokoban import plan as sokoban_plan  # noqa: E402
from vlmgym.games.swap import swap_lines  # noqa: E402
from vlmgym_rl.coldstart import (  # noqa: E402
    OpenAITeacher,
    OracleTeacher,
    build_coldstart_dataset,
    load_coldstart_dataset,
)
from vlmgym_rl.explain import board_cells  # noqa: E402

pytestmark = pytest.mark.rl

CIFAR = "VLMGym/ShisenshoCifar10-v0"


def _score(env_id, kwargs, rows):
    vec = gym.make_vec(env_id, num_envs=1, obs_mode="text", **kwargs)
    states = [vlmgym.GameState.from_bytes(r["state"]) for r in rows]
    rewards, info = vec.score(states, [r["completion"][0]["content"][0]["text"] for r in rows])
    vec.close()
    return rewards, info


def _text(row):
    return row["completion"][0]["content"][0]["text"]


@pytest.mark.parametrize("env_id", [*BASE_IDS, CIFAR])
def test_every_oracle_example_is_rewarded_with_the_exact_perception(env_id, env_kwargs_for, tmp_path):
    kwargs = env_kwargs_for.get(env_id, {})
    from vlmgym_rl.states import GameSpec

    result = build_coldstart_dataset([GameSpec(env_id, kwargs)], 24, tmp_path / "cs", chunk_size=16)
    ds = result.dataset
    assert len(ds) == 24 and result.complete
    rows = list(ds)
    rewards, info = _score(env_id, kwargs, rows)
    assert (rewards > 0).all() and (info["action_status"] == "ok").all()  # legal and rewarded, every one
    image_env = gym.make_vec(env_id, num_envs=1, obs_mode="image", **kwargs)
    for row in rows:
        text = _text(row)
        assert perception_exact(text, row["board_text"]) and format_ok(text)
        assert text.startswith(f"<perception>\n{row['board_text']}\n</perception>")
        assert extract_block(text, "think").strip() and row["teacher"] == "oracle" and row["attempts"] == 1
        state = vlmgym.GameState.from_bytes(row["state"])
        assert state.digest() == row["state_id"] and row["env_id"] == env_id
        assert image_env.board_texts([state])[0] == row["board_text"]
        # the picture is the state's board, and the prompt has one image slot for it
        (image,) = row["images"]
        assert np.array_equal(np.asarray(image.convert("RGB")), image_env.render_states([state])[0])
        (user,) = row["prompt"]
        assert [b["type"] for b in user["content"]] == ["image", "text"]
        assert row["board_text"] not in user["content"][1]["text"]  # the prompt never gives the answer away
        assert row["completion"][0]["role"] == "assistant"
    image_env.close()
    assert len({r["state_id"] for r in rows}) == 24  # no state twice
    stats = json.loads((tmp_path / "cs" / "stats.json").read_text())
    (game,) = stats["games"].values()
    assert game["examples"] == 24 and game["accepted"] >= 24 and game["answer_acceptance_rate"] == 1.0
    assert game["states_sampled"] == game["accepted"] + sum(game["rejected"].values())
    if env_id == "VLMGym/2048-v0":  # boards where no move merges have no rewarded answer: skipped, counted
        assert set(game["rejected"]) <= {"no_rewarded_move", "duplicate_state"}


def test_reasoning_reports_what_the_solver_checked(tmp_path):
    ds = build_coldstart_dataset(BASE_IDS, 8, tmp_path / "cs", chunk_size=8).dataset
    for row in ds:
        think = extract_block(_text(row), "think").strip()
        answer = extract_block(_text(row), "answer").strip()
        state = vlmgym.GameState.from_bytes(row["state"])
        vec = gym.make_vec(row["env_id"], num_envs=1, obs_mode="text")
        if row["env_id"] == "VLMGym/2048-v0":
            exps = state.arrays["board"]
            new, gain, merges = vec.game.move(np.repeat(exps[None], 4, axis=0), np.arange(4))
            for d, name in enumerate(("up", "right", "down", "left")):
                line = next(x for x in think.splitlines() if x.startswith(f"- {d} ({name})"))
                if merges[d]:
                    assert f"gains {int(gain[d])};" in line and "merges" in line
                    assert line.count("+") == int(merges[d])  # every merging pair is named
                else:
                    assert "+" not in line and ("nothing merges" in line or "not allowed" in line)
            assert merges[int(answer)] > 0 and think.endswith(f"So I move {answer} ({('up', 'right', 'down', 'left')[int(answer)]}).")
        elif "Shisensho" in row["env_id"]:
            assert "pairs of matching tiles" in think and "joined by" in think
            (r1, c1), (r2, c2) = vec.game.parse(f"<answer>{answer}</answer>").action
            chosen = next(x for x in think.splitlines() if f"at ({r1}, {c1}) and ({r2}, {c2})" in x)
            assert "joined by" in chosen
        elif "Sokoban" in row["env_id"]:  # the plan of the exact search, ending with its first move
            moves = sokoban_plan(state.arrays["board"]).moves
            assert think.startswith("The player is at (") and f"a shortest solution of {len(moves)} moves:" in think
            assert answer == ("up", "right", "down", "left")[moves[0]] and think.endswith(f"So I move {answer}.")
        elif "Minesweeper" in row["env_id"]:  # the solver's deduction or guess, ending with its reveal
            a = minesweeper_analyse(state.arrays["board"], int(state.rules["mines"]))
            assert answer == f"reveal ({a.move[0]}, {a.move[1]})" and think.endswith(f"So I reveal ({a.move[0]}, {a.move[1]}).")
            assert a.how in ("start", "single", "subset", "exact", "guess") and "\n".join(a.lines()) in think
        else:
            assert think.startswith("I try all 112 swaps") and f"So I swap {answer.replace(') (', ') and (')}." in think
        vec.close()


def _sparse_shisensho_states(n, seed):
    """Shisen-Sho boards with some tiles removed (legal moves applied), so paths can bend."""
    vec = gym.make_vec("VLMGym/Shisensho-v0", num_envs=n, obs_mode="text", autoreset_mode="disabled")
    vec.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(rng.integers(3, 12)):
        mask = vec.legal_masks()
        actions = []
        for row in mask:
            legal = np.flatnonzero(row)
            idx = int(rng.choice(legal)) if len(legal) else 0
            actions.append(f"<answer>{vec.game.format_answer(vec.game.from_array(vec.game.decode(np.array([idx]))[0]))}</answer>")
        vec.step(actions)
    states = vec.get_states()
    return vec, states


def test_pair_path_agrees_with_the_game_rule():
    checked = bent = 0
    for seed in range(6):
        vec, states = _sparse_shisensho_states(16, seed)
        for state, text in zip(states, vec.board_texts(states)):
            cells = board_cells(text)
            filled = np.array([[c != "-" for c in row] for row in cells])
            pos = [(r, c) for r in range(6) for c in range(6) if filled[r, c]]
            pairs = [(a, b) for i, a in enumerate(pos) for b in pos[i + 1:] if cells[a[0]][a[1]] == cells[b[0]][b[1]]]
            if not pairs:
                continue
            answers = [f"<answer>({a[0]}, {a[1]}) ({b[0]}, {b[1]})</answer>" for a, b in pairs]
            _, info = vec.score([state] * len(pairs), answers)
            for (a, b), ok in zip(pairs, info["success"]):
                path = pair_path(filled, a, b)
                assert (path is not None) == bool(ok), (text, a, b)
                checked += 1
                if path is None:
                    continue
                assert path[0] == a and path[-1] == b and len(path) <= 4  # at most two turns
                bent += len(path) > 2
                for p, q in zip(path, path[1:]):
                    assert p[0] == q[0] or p[1] == q[1]  # horizontal or vertical segments
                    step = (int(np.sign(q[0] - p[0])), int(np.sign(q[1] - p[1])))
                    cur = p
                    while cur != q:
                        cur = (cur[0] + step[0], cur[1] + step[1])
                        if cur != b:
                            inside = 0 <= cur[0] < 6 and 0 <= cur[1] < 6
                            assert -1 <= cur[0] <= 6 and -1 <= cur[1] <= 6 and not (inside and filled[cur])
        vec.close()
    assert checked > 500 and bent > 20


def test_swap_lines_agree_with_the_game_rule():
    s = vlmgym.sample_states("VLMGym/Swap-v0", 64, seed=3, obs_mode="text")
    vec = gym.make_vec("VLMGym/Swap-v0", num_envs=1, obs_mode="text")
    swaps = [((r, c), (r, c + 1)) for r in range(8) for c in range(7)] + \
            [((r, c), (r + 1, c)) for r in range(7) for c in range(8)]
    valid = 0
    for state, text in zip(s.states, vec.board_texts(s.states)):
        cells = board_cells(text)
        _, info = vec.score([state] * len(swaps), [f"<answer>({a[0]}, {a[1]}) ({b[0]}, {b[1]})</answer>" for a, b in swaps])
        for (a, b), ok in zip(swaps, info["success"]):
            lines = swap_lines(cells, a, b)
            assert (bool(lines) and cells[a[0]][a[1]] != cells[b[0]][b[1]]) == bool(ok)
            valid += bool(ok)
    assert valid > 100


def test_2048_merge_helper_agrees_with_the_game_rule():
    s = vlmgym.sample_states("VLMGym/2048-v0", 200, seed=5, obs_mode="text")
    vec = gym.make_vec("VLMGym/2048-v0", num_envs=1, obs_mode="text")
    boards = np.stack([st.arrays["board"] for st in s.states])
    for d in range(4):
        _, gain, merges = vec.game.move(boards, np.full(len(boards), d))
        for b, g, m in zip(boards, gain, merges):
            grid = np.where(b > 0, np.left_shift(1, b.astype(np.int64)), 0)
            merged = [v for _, line in _lines(grid, d) for v in _line_merges(line)]
            assert len(merged) == m and 2 * sum(merged) == g


class _InterruptedOracle(OracleTeacher):
    """The oracle, killed (as by Ctrl-C) on its ``fail_at``-th batch."""

    def __init__(self, fail_at):
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def respond(self, items, attempt):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return super().respond(items, attempt)


def _fingerprint(ds):
    return [(r["env_id"], r["state_id"], _text(r)) for r in ds]


def test_oracle_builds_are_deterministic_and_resume_after_a_kill(tmp_path):
    games = ["VLMGym/2048-v0", "VLMGym/Swap-v0"]
    full = build_coldstart_dataset(games, 20, tmp_path / "full", seed=7, chunk_size=8)
    # a build killed in the middle of its second game leaves finished chunks behind
    with pytest.raises(KeyboardInterrupt):
        build_coldstart_dataset(games, 20, tmp_path / "resumed", seed=7, chunk_size=8, teacher=_InterruptedOracle(5))
    shards = sorted(p.name for p in (tmp_path / "resumed" / "shards").rglob("chunk-*.json"))
    assert len(shards) == 4 and not (tmp_path / "resumed" / "dataset").exists()
    teacher = _InterruptedOracle(0)
    again = build_coldstart_dataset(games, 20, tmp_path / "resumed", seed=7, chunk_size=8, teacher=teacher)
    assert teacher.calls == 2  # only the chunks that were missing were answered
    assert _fingerprint(again.dataset) == _fingerprint(full.dataset)  # nothing lost, nothing twice
    drop = ("build_seconds", "seconds", "states_per_second")
    strip = lambda g: {k: v for k, v in g.items() if k not in drop}  # noqa: E731
    assert [strip(g) for g in again.stats["games"].values()] == [strip(g) for g in full.stats["games"].values()]
    # the same build again is a no-op that gives the same dataset; a larger one extends it
    assert _fingerprint(build_coldstart_dataset(games, 20, tmp_path / "full", seed=7, chunk_size=8).dataset) == \
        _fingerprint(full.dataset)
    bigger = build_coldstart_dataset(games, 30, tmp_path / "full", seed=7, chunk_size=8)
    assert len(bigger.dataset) == 60 and {r[1] for r in _fingerprint(full.dataset)} <= \
        {r[1] for r in _fingerprint(bigger.dataset)}
    # other settings in the same folder are refused (or replace the build with overwrite=True)
    with pytest.raises(ValueError, match="holds a cold-start build with other settings"):
        build_coldstart_dataset(games, 20, tmp_path / "full", seed=8, chunk_size=8)
    other = build_coldstart_dataset(games[:1], 5, tmp_path / "full", seed=8, chunk_size=8, overwrite=True)
    assert len(other.dataset) == 5


def test_saved_copies_load_the_same(tmp_path):
    result = build_coldstart_dataset("VLMGym/Swap-v0", 6, tmp_path / "cs", chunk_size=8)
    from_disk = load_coldstart_dataset(tmp_path / "cs")
    from_parquet = load_coldstart_dataset(tmp_path / "cs" / "coldstart.parquet")
    assert _fingerprint(from_disk) == _fingerprint(from_parquet) == _fingerprint(result.dataset)
    assert from_parquet.features == from_disk.features
    assert np.array_equal(np.asarray(from_parquet[0]["images"][0]), np.asarray(from_disk[0]["images"][0]))
    with pytest.raises(ValueError, match="no cold-start dataset"):
        load_coldstart_dataset(tmp_path / "missing")
    with pytest.raises(ValueError, match="lacks the prompt-completion columns"):
        from vlmgym_rl.states import build_state_dataset

        build_state_dataset("VLMGym/Swap-v0", 2).save_to_disk(str(tmp_path / "states"))
        load_coldstart_dataset(tmp_path / "states")


@pytest.mark.parametrize("kwargs, message", [
    ({"num_states": 0}, "num_states must be a positive integer"),
    ({"chunk_size": 0}, "chunk_size must be a positive integer"),
    ({"teacher": "gpt"}, "unknown teacher 'gpt'"),
    ({"games": ["VLMGym/Nope-v0"]}, "unknown env id"),
])
def test_bad_settings_fail_before_any_work(kwargs, message, tmp_path):
    args = {"games": "VLMGym/2048-v0", "num_states": 4, "out": tmp_path / "x", **kwargs}
    with pytest.raises(ValueError, match=message):
        build_coldstart_dataset(**args)


# -- the API teacher against a loopback OpenAI-compatible server -------------------------------------------
def _kind(board: str) -> int:
    """What the scripted teacher does with a board (stable per board): see ScriptedTeacherServer."""
    grid = np.array([[0 if c == "-" else int(c) for c in row] for row in board_cells(board)])
    if not any(_line_merges(line) for d in range(4) for _, line in _lines(grid, d)):
        return 4  # no rewarded move exists
    return int(hashlib.sha1(board.encode()).hexdigest(), 16) % 5


def _good_move(board: str) -> int:
    grid = np.array([[0 if c == "-" else int(c) for c in row] for row in board_cells(board)])
    return next(d for d in range(4) if any(_line_merges(line) for _, line in _lines(grid, d)))


@pytest.fixture
def teacher_server():
    from test_eval_openai import FakeChatServer

    class ScriptedTeacherServer(FakeChatServer):
        """Answers a 2048 board (read from the teacher's board-text hint) by its kind:
        0 right at once; 1 unparsable, then right; 2 no answer tag, then right; 3 wrong perception but
        a right move (kept: the perception is replaced by the truth); 4 always unparsable."""

        def __init__(self):
            self.asked = {}
            super().__init__()

        def _completion(self, body, text=None):
            if text is None:
                user = body["messages"][-1]["content"][-1]["text"]
                board = user.split("Current board:\n", 1)[1]
                with self.lock:
                    self.asked[board] = n = self.asked.get(board, 0) + 1
                kind = _kind(board)
                good = f"<perception>\n{board}\n</perception><think>I checked the merges.</think><answer>{_good_move(board) if kind != 4 else 0}</answer>"
                if kind == 4 or (kind == 1 and n == 1):
                    text = "<think>hmm</think><answer>sideways</answer>"
                elif kind == 2 and n == 1:
                    text = "I cannot tell."
                elif kind == 3:
                    text = good.replace(board, "nothing to see")
                else:
                    text = good
            return FakeChatServer._completion(body, text)

    s = ScriptedTeacherServer()
    yield s
    s.close()
    assert not s.errors, s.errors


def test_api_teacher_answers_are_verified_and_bad_ones_rejected(teacher_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", "sk-test")
    options = {"base_url": teacher_server.url, "api_key_env": "TEACHER_KEY", "concurrency": 3, "retries": 0,
               "board_text_hint": True}
    teacher_server.script.append(("status", 500))  # the first request fails: the state is asked again
    result = build_coldstart_dataset("VLMGym/2048-v0", 12, tmp_path / "api", teacher="openai:teacher-model",
                                     teacher_options=options, chunk_size=8, max_attempts=3)
    ds, stats = result.dataset, result.stats["games"]["2048-v0"]
    assert len(ds) == 12 and result.complete
    rewards, _ = _score("VLMGym/2048-v0", {}, list(ds))
    assert (rewards > 0).all()
    kinds = {}
    for row in ds:
        kind = kinds[row["state_id"]] = _kind(row["board_text"])
        assert kind != 4  # never answered right: never kept
        assert perception_exact(_text(row), row["board_text"])  # replaced by the truth when the teacher erred
        assert extract_block(_text(row), "think").strip() == "I checked the merges."
        assert row["teacher_perception_exact"] == (kind != 3)
        assert row["teacher"] == "openai:teacher-model"
        expected_attempts = 2 if kind in (1, 2) else 1
        assert row["attempts"] in (expected_attempts, expected_attempts + 1)  # +1 for the failed request
        assert row["board_text"] not in row["prompt"][0]["content"][1]["text"]  # the hint is never stored
    extra = sum(r["attempts"] for r in ds) - len(ds) - sum(k in (1, 2) for k in kinds.values())
    assert extra in (0, 1)  # 1 if the failed request was for a state that is in the dataset
    rejected = stats["rejected"]
    assert rejected["request_failed"] == 1
    given_up = stats["states_sampled"] - stats["accepted"] - rejected.get("duplicate_state", 0)
    assert given_up >= 1 and stats["accepted"] >= 12
    assert rejected.get("no_answer", 0) >= sum(k == 2 for k in kinds.values())
    assert rejected["unparsable"] >= 3 * given_up - 1  # three tries each (one may have been the failed request)
    assert stats["requests"] == stats["accepted"] + sum(v for k, v in rejected.items() if k != "duplicate_state")
    assert stats["teacher_perception_exact_rate"] < 1.0
    # what the server saw: PNG board pictures (checked by the server), the game prompt plus the hint, a seed
    body = teacher_server.requests[0]
    assert body["model"] == "teacher-model" and "seed" in body and body["temperature"] == 0.7
    assert "Current board:\n" in body["messages"][-1]["content"][-1]["text"]
    assert len(teacher_server.pngs) == len(teacher_server.requests)
    # retries of a state send a different seed (so a sampling server answers differently)
    seeds_by_board = {}
    for req in teacher_server.requests:
        board = req["messages"][-1]["content"][-1]["text"].split("Current board:\n", 1)[1]
        seeds_by_board.setdefault(board, []).append(req["seed"])
    assert all(len(set(v)) == len(v) for v in seeds_by_board.values())


def test_api_teacher_needs_its_key(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(ValueError, match=r"needs an API key in the environment variable \$NO_SUCH_KEY"):
        OpenAITeacher("m", base_url="http://127.0.0.1:9/v1", api_key_env="NO_SUCH_KEY")


def test_shards_are_written_atomically(tmp_path):
    build_coldstart_dataset("VLMGym/2048-v0", 4, tmp_path / "cs", chunk_size=8)
    names = sorted(p.name for p in (tmp_path / "cs").rglob("*"))
    assert not [n for n in names if n.endswith(".tmp")]
    assert {"config.json", "stats.json", "coldstart.parquet", "dataset"} <= set(names)
    meta = json.loads(next((tmp_path / "cs" / "shards" / "2048-v0").glob("chunk-*.json")).read_text())
    assert meta["examples"] >= 4 and len(meta["state_ids"]) == meta["counts"]["states"] - \
        meta["counts"]["rejected"]["duplicate_state"]
    assert Path(tmp_path / "cs" / "shards" / "2048-v0" / "chunk-00000.parquet").is_file()


def test_api_teacher_survives_a_hostile_server_and_stores_no_secret(tmp_path, monkeypatch, capsys):
    """Malformed replies (deep nesting, a non-string text part) are failed requests, not a crash;
    a teacher whose reasoning echoes the request's headers and body is stored without secrets."""
    from test_eval_openai import FakeChatServer
    from test_robustness_endpoints import HOSTILE_BODIES

    class EchoTeacherServer(FakeChatServer):
        def _completion(self, body, text=None):  # a right answer; the reasoning echoes the secrets, if asked
            board = body["messages"][-1]["content"][-1]["text"].split("Current board:\n", 1)[1]
            think = "I checked the merges."
            if text:  # the headers, and the extra body field (not the prompt: it has tags of its own)
                think = f"{text.split(' and body ')[0]}; api_key={body['api_key']}"
            move = _good_move(board) if _kind(board) != 4 else 0
            return FakeChatServer._completion(
                body, f"<perception>\n{board}\n</perception><think>{think}</think><answer>{move}</answer>")

    key, extra = "sk-teacher-secret-value-77", "teacher-extra-secret-88"
    monkeypatch.setenv("TEACHER_KEY", key)
    server = EchoTeacherServer()
    server.script.extend([("raw", 200, HOSTILE_BODIES["deeply nested"]),
                          ("raw", 200, HOSTILE_BODIES["text part not a string"]),
                          ("echo", 500), *[("echo", 200)] * 3])
    try:
        options = {"base_url": server.url, "api_key_env": "TEACHER_KEY", "concurrency": 1, "retries": 1,
                   "board_text_hint": True, "extra_body": {"api_key": extra}}
        result = build_coldstart_dataset("VLMGym/2048-v0", 6, tmp_path / "cs", teacher="openai:teacher-model",
                                         teacher_options=options, chunk_size=8, max_attempts=2,
                                         progress=print)
    finally:
        server.close()
    assert not server.errors, server.errors
    stats = result.stats["games"]["2048-v0"]
    assert result.complete and stats["rejected"]["request_failed"] == 1  # the two malformed replies
    sent = json.dumps(server.headers) + json.dumps(server.requests)
    assert key in sent and extra in sent  # the server saw (and echoed) both
    echoed = [r for r in result.dataset if "you sent headers" in _text(r)]
    assert echoed and all("Bearer <redacted>" in _text(r) for r in echoed)
    for row in result.dataset:
        assert key not in json.dumps(row["prompt"]) + _text(row) and extra not in _text(row)
    for path in (tmp_path / "cs").rglob("*.json"):
        text = path.read_text()
        assert key not in text and extra not in text, path
    assert json.loads((tmp_path / "cs" / "config.json").read_text())["teacher"]["extra_body"] == {
        "api_key": "<redacted>"}
    printed = "".join(capsys.readouterr())
    assert key not in printed and extra not in printed
