"""``check_game``: the conformance check every vlmgym game passes (pgx's ``api_test``, broader).

Run it on an id or on a game of your own::

    from vlmgym.testing import check_game
    check_game("VLMGym/2048-v0")
    check_game(MyGame(size=4))            # a Game instance (or class) works too

It builds the game's single and vector envs and checks, with public API only:

=========================  ==================================================================
``check_env``              Gymnasium's ``check_env`` (render check included) in every obs/action/reward mode
``determinism``            seeded resets and steps repeat exactly, also on a reused env
``vector_matches_single``  a vector env equals single envs seeded alike, step by step, new games after
                           autoresets included
``snapshots``              ``to_bytes``/``from_bytes`` round trip, identical futures, immutability, corrupt bytes refused;
                           every entry point (``set_state(s)``, ``reset(options=...)``, ``score``) refuses a state
                           ``from_bytes`` would refuse
``successors``             a state that loads has successors that load: sampled states, counters at their limit and
                           field values pushed to the top of their range, stepped with every legal and a few
                           illegal and unparsable answers, saved and loaded again
``rules``                  the rules normalise like a snapshot's; a snapshot restores into a fresh env
``make_state``             ``make_state`` rebuilds a state, draws a fresh stream without ``rng=``, refuses bad fields
``score``                  ``score()`` leaves live envs untouched and agrees with stepping restored copies
``legal_masks``            a legal index is ``"ok"``, an illegal one ``"illegal"``; masks agree everywhere;
                           a state without a legal move is terminal; ``terminal()`` agrees with stepping
``codec``                  format -> parse -> the same action; arrays, indices, JSON, clicks, keys round trip
``tools``                  the multi-turn tools are well formed and play the action they stand for
``board_text``             deterministic, within the text space, unchanged by a move that changes nothing
``frames``                 the declared shape; unchanged by a move that changes nothing; ``render_states``
                           and ``render()`` equal the observation; read-only; counted
``sampler``                the state sampler draws nothing while moving and composes one frame per state
``oracle``                 the ``oracle`` policy's answers are legal (and deterministic)
``bad_input``              bad kwargs and actions raise clear errors; no model text raises
``autoreset``              SAME_STEP, NEXT_STEP and DISABLED autoreset behave as documented
``image_sizes``            multiples of 28 px, the paper's 640x840, too small refused
``human_render``           ``render_mode="human"`` (Gymnasium's ``HumanRendering``) works headless (with pygame)
=========================  ==================================================================

A failure raises :class:`GameCheckError` naming the game and the check. ``checks=[...]`` runs a
subset (``tests/test_conformance.py`` runs each check of each id as its own test).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from vlmgym.core.game import COMMON_FIELDS, COUNTER_MAX, Game
from vlmgym.core.state import GameState, StateError, freeze_rules, validate_state
from vlmgym.envs.engine import TEXT_CHARSET
from vlmgym.envs.single import VLMGymEnv
from vlmgym.envs.vector import VLMGymVectorEnv
from vlmgym.registration import require_vlmgym_id

__all__ = ["CHECKS", "GameCheckError", "check_game"]

_MODES = [(o, a) for o in ("image", "text", "image+text") for a in ("text", "index")]
_MAX_INDICES = 2048  # index actions checked exhaustively up to this many, else a seeded sample


class GameCheckError(AssertionError):
    """A game failed a conformance check; the message names the game and the check."""


class _Failed(Exception):
    pass


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise _Failed(message)


class _Target:
    """How to build the envs of the game under test (a registered id, or a Game instance)."""

    def __init__(self, target: str | Game | type[Game], env_kwargs: Mapping[str, Any] | None):
        self.kwargs = dict(env_kwargs or {})
        if isinstance(target, str):
            require_vlmgym_id(target)
            self.env_id: str | None = target
            self.label = target
            self.game_obj: Game | None = None
        else:
            game = target() if isinstance(target, type) and issubclass(target, Game) else target
            if not isinstance(game, Game):
                raise TypeError(f"check_game expects an env id, a Game or a Game class, got {type(target).__name__}")
            if self.kwargs:
                raise ValueError("env_kwargs apply to env ids; configure a Game instance through its constructor")
            self.env_id = None
            self.label = f"{type(game).__name__} ({game.name!r})"
            self.game_obj = game

    def make(self, **kw: Any) -> Any:
        if self.env_id is not None:
            return gym.make(self.env_id, **{**self.kwargs, **kw})
        return VLMGymEnv(self.game_obj, **kw)  # type: ignore[arg-type]

    def make_vec(self, n: int, **kw: Any) -> VLMGymVectorEnv:
        vec: Any
        if self.env_id is not None:
            vec = gym.make_vec(self.env_id, num_envs=n, **{**self.kwargs, **kw})
        else:
            vec = VLMGymVectorEnv(self.game_obj, num_envs=n, **kw)  # type: ignore[arg-type]
        _require(isinstance(vec, VLMGymVectorEnv), f"make_vec gave {type(vec).__name__}, not the native "
                 "VLMGymVectorEnv (register with vlmgym.register_env)")
        return vec


def _answers(game: Game, index: Iterable[int]) -> list[str]:
    return [f"<answer>{a}</answer>" for a in game.index_answers(np.asarray(list(index), dtype=np.int64))]


def _sampled(t: _Target, n: int, seed: int, moves: int = 6) -> tuple[VLMGymVectorEnv, list[GameState]]:
    """A text vector env and ``n`` states a few random legal moves into their games."""
    vec = t.make_vec(n, obs_mode="text", autoreset_mode="same_step")
    vec.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(moves):
        masks = vec.legal_masks()
        picks = [int(rng.choice(np.flatnonzero(m))) if m.any() else 0 for m in masks]
        vec.step(_answers(vec.game, picks))
    return vec, vec.get_states()


# -- the checks ----------------------------------------------------------------------------------
def _check_env(t: _Target, seed: int) -> None:
    from gymnasium.utils.env_checker import check_env

    for obs_mode, action_mode in _MODES:
        for reward_mode in ("binary", "score"):
            env = t.make(obs_mode=obs_mode, action_mode=action_mode, reward_mode=reward_mode,
                         render_mode="rgb_array")
            with warnings.catch_warnings():
                if t.env_id is None:  # no spec: Gymnasium cannot rebuild the env per render mode
                    warnings.filterwarnings("ignore", message=".*alternative render modes.*")
                try:
                    check_env(env.unwrapped, skip_render_check=False)
                except Exception as exc:
                    raise _Failed(f"obs_mode={obs_mode}, action_mode={action_mode}, reward_mode={reward_mode}: "
                                  f"{type(exc).__name__}: {exc}") from exc
            env.close()


def _determinism(t: _Target, seed: int) -> None:
    def run(env: Any, s: int) -> list[Any]:
        out: list[Any] = []
        env.reset(seed=s)
        rng = np.random.default_rng(s)
        for _ in range(8):
            legal = np.flatnonzero(env.unwrapped.legal_actions())
            pick = int(rng.choice(legal)) if len(legal) else 0
            _, r, term, _, info = env.step(_answers(env.unwrapped.game, [pick])[0])
            out.append((r, term, info["board_text"], info["action_status"], env.unwrapped.get_state().digest()))
            if term:
                break
        return out

    a, b = t.make(obs_mode="text"), t.make(obs_mode="text")
    first = run(a, seed)
    _require(first == run(b, seed), "two envs reset with the same seed played the same moves differently")
    run(a, seed + 1)
    _require(first == run(a, seed), "an env reset again with the same seed did not repeat its game")


def _vector_matches_single(t: _Target, seed: int) -> None:
    vec = t.make_vec(3, obs_mode="image+text", action_mode="index")
    obs, info = vec.reset(seed=seed)
    singles = [t.make(obs_mode="image+text", action_mode="index") for _ in range(3)]
    outs = [s.reset(seed=seed + i) for i, s in enumerate(singles)]
    rng = np.random.default_rng(seed)
    for step in range(12):
        for i, (o, inf) in enumerate(outs):
            where = f"step {step}, env {i}"
            _require(np.array_equal(obs["image"][i], o["image"]), f"{where}: vector and single images differ")
            _require(obs["text"][i] == o["text"], f"{where}: vector and single texts differ")
            _require(info["board_text"][i] == inf["board_text"], f"{where}: board texts differ")
            _require(np.array_equal(info["action_mask"][i], inf["action_mask"]), f"{where}: action masks differ")
        acts = np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in info["action_mask"]])
        obs, rew, term, trunc, info = vec.step(acts)
        new_outs = []
        for i, s in enumerate(singles):
            o, r, te, tr, inf = s.step(int(acts[i]))
            where = f"step {step}, env {i}"
            _require(r == rew[i] and te == term[i], f"{where}: reward/terminated differ ({r}, {te}) vs "
                     f"({rew[i]}, {term[i]})")
            _require(inf["action_status"] == info["action_status"][i], f"{where}: action_status differs")
            if te or tr:
                _require(np.array_equal(info["final_obs"][i]["image"], o["image"]),
                         f"{where}: final_obs of the finished game differs from the single env's last image")
                o, inf = s.reset()  # the single env's next game must be the vector env's new one
            new_outs.append((o, inf))
        outs = new_outs
    vec.close()


def _snapshots(t: _Target, seed: int) -> None:
    env = t.make(action_mode="index", obs_mode="text")
    env.reset(seed=seed)
    legal = np.flatnonzero(env.unwrapped.legal_actions())
    if len(legal):
        env.step(int(legal[0]))
    snap = env.unwrapped.get_state()
    blob = snap.to_bytes()
    back = GameState.from_bytes(blob)
    _require(back == snap and back.digest() == snap.digest() and back.to_bytes() == blob,
             "from_bytes(to_bytes(state)) is not the same state")
    futures = []
    for _ in range(2):
        env.unwrapped.set_state(back)
        traj = []
        for a in range(min(env.action_space.n, 6)):
            _, r, te, _, info = env.step(a)
            traj.append((r, te, info["board_text"], info["action_status"], env.unwrapped.get_state().digest()))
        futures.append(traj)
    _require(futures[0] == futures[1], "continuing from the same snapshot twice gave different futures")
    obs, info = env.reset(options={"state": snap})
    _require(env.unwrapped.get_state() == snap, "reset(options={'state': s}) did not restore s")
    _require(obs == info["board_text"] == env.unwrapped.board_text(snap), "the restored board text differs")
    try:
        snap.foo = 1  # type: ignore[attr-defined]
    except AttributeError:
        pass
    else:
        raise _Failed("a GameState accepted a new attribute")
    name = next(iter(snap.arrays))
    try:
        snap[name][...] = 0
    except ValueError:
        pass
    else:
        raise _Failed(f"a GameState's array {name!r} is writable")
    for bad in (blob[:-1], blob[:20], b"nonsense"):
        try:
            GameState.from_bytes(bad)
        except StateError:
            continue
        raise _Failed("from_bytes accepted truncated or corrupt bytes")
    # a state from_bytes would refuse (a negative counter), built with the constructor, is refused
    # by every entry point, not played
    invalid = GameState(snap.game, snap.rules, {**snap.arrays, "steps": np.int64(-1)})
    vec = t.make_vec(1, obs_mode="text")
    vec.reset(seed=seed)
    for what, enter in (("set_state", lambda: env.unwrapped.set_state(invalid)),
                        ("reset(options={'state': ...})", lambda: env.reset(options={"state": invalid})),
                        ("set_states", lambda: vec.set_states([invalid])),
                        ("reset(options={'states': ...})", lambda: vec.reset(options={"states": [invalid]})),
                        ("score", lambda: vec.score([invalid], ["x"]))):
        try:
            enter()
        except StateError:
            continue
        raise _Failed(f"{what} accepted a state that from_bytes refuses (steps=-1)")
    vec.close()


def _successors(t: _Target, seed: int) -> None:
    vec, states = _sampled(t, 3, seed)
    game = vec.game
    rng = np.random.default_rng(seed)
    pool = [("a sampled state", s) for s in states]
    counters = {k: np.int64(COUNTER_MAX) for k in ("score", "steps", "successes")}
    at_limit = GameState(game.name, states[0].rules, {**states[0].arrays, **counters})
    pool.append(("counters at their limit", at_limit))
    for s in states[:2]:
        pool += [(f"{name} pushed to {top}", pushed) for name, top, pushed in _at_the_top(s, rng)]
    for label, state in pool:  # every one of them valid (_at_the_top keeps only what validates)
        try:
            loaded = GameState.from_bytes(state.to_bytes())
        except StateError as exc:
            raise _Failed(f"{label}: a valid state does not load: {exc}") from None
        mask = vec.legal_masks([loaded])[0]
        legal = np.flatnonzero(mask)
        if len(legal) > 48:
            legal = np.sort(rng.choice(legal, 48, replace=False))
        illegal = np.flatnonzero(~mask)[:3]
        answers = [*_answers(game, legal), *_answers(game, illegal), "no move", "<answer>-1 1000000 -7 3</answer>"]
        _, infos = vec.score([loaded] * len(answers), answers, return_states=True)
        for answer, nxt in zip(answers, infos["next_state"]):
            try:
                again = GameState.from_bytes(nxt.to_bytes())
            except StateError as exc:
                raise _Failed(f"{label}: {answer!r} led to a state that does not load: {exc}") from None
            _require(again == nxt, f"{label}: {answer!r} led to a state that does not round trip")
    single = t.make(obs_mode="text")  # the single env steps the same way
    single.reset(options={"state": at_limit})
    single.step("no move")
    try:
        GameState.from_bytes(single.unwrapped.get_state().to_bytes())
    except StateError as exc:
        raise _Failed(f"the single env stepped a state at the counters' limit into one that does not load: {exc}") from None
    vec.close()


def _at_the_top(state: GameState, rng: np.random.Generator) -> list[tuple[str, int, GameState]]:
    """States with values of a game field pushed to the largest the game accepts: two neighbouring
    cells, then the whole field (where the game still accepts it). Found generically: the largest
    value one cell may hold, by bisection over the dtype's range."""
    out = []
    for name, a in state.arrays.items():
        if name in COMMON_FIELDS or a.dtype.kind not in "biu":
            continue

        def with_values(cells: Any, value: int, a: np.ndarray = a, name: str = name) -> GameState | None:
            b = np.array(a)
            b[cells] = value
            candidate = GameState(state.game, state.rules, {**state.arrays, name: b})
            try:
                validate_state(candidate)
            except StateError:
                return None
            return candidate

        corner = (0,) * a.ndim
        lo, hi = int(a.max()), 1 if a.dtype.kind == "b" else int(np.iinfo(a.dtype).max)
        if with_values(corner, lo) is None:
            continue
        while lo < hi:  # the largest value the corner cell may hold (valid values assumed contiguous)
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if with_values(corner, mid) is not None else (lo, mid - 1)
        for _ in range(3 if a.ndim else 0):
            pos = tuple(int(rng.integers(0, d)) for d in a.shape)
            axis = int(rng.integers(0, a.ndim))
            if a.shape[axis] < 2:
                continue
            other = list(pos)
            other[axis] = pos[axis] + 1 if pos[axis] + 1 < a.shape[axis] else pos[axis] - 1
            cells = tuple(np.array([p, o]) for p, o in zip(pos, other))
            pushed = with_values(cells, lo)
            if pushed is not None:
                out.append((name, lo, pushed))
        full = with_values(..., lo)
        if full is not None:
            out.append((f"all of {name}", lo, full))
    return out


def _rules(t: _Target, seed: int) -> None:
    env = t.make(obs_mode="text")
    game = env.unwrapped.game
    try:
        frozen = freeze_rules(game.rules)
    except (TypeError, ValueError) as exc:
        raise _Failed(f"game.rules must be plain JSON data (got {game.rules!r}: {exc})") from exc
    env.reset(seed=seed)
    state = env.unwrapped.get_state()
    _require(state.rules == frozen, f"a state's rules {dict(state.rules)} are not the game's {dict(frozen)}")
    fresh = t.make(obs_mode="text")
    fresh.unwrapped.set_state(GameState.from_bytes(state.to_bytes()))
    _require(fresh.unwrapped.get_state() == state, "a snapshot did not restore into a fresh env of the same game")


def _make_state(t: _Target, seed: int) -> None:
    vec, states = _sampled(t, 2, seed)
    env = t.make(obs_mode="text")
    env.reset(seed=seed)
    for state in states:
        fields = {k: np.array(v) for k, v in state.arrays.items()}
        rebuilt = env.unwrapped.make_state(**fields)
        _require(rebuilt == state, "make_state(**state.arrays) did not rebuild the state")
        rng = fields.pop("rng")
        fresh = env.unwrapped.make_state(**fields)
        _require(not np.array_equal(fresh["rng"], rng), "make_state without rng= did not draw a fresh stream")
        _require(all(np.array_equal(fresh[k], v) for k, v in fields.items()), "make_state changed a field")
        game_fields = [k for k in fields if k not in ("score", "steps", "successes")]
        minimal = env.unwrapped.make_state(**{k: fields[k] for k in game_fields})
        _require(int(minimal["score"]) == int(minimal["steps"]) == int(minimal["successes"]) == 0,
                 "make_state's counters do not default to 0")
        first = fields[game_fields[0]]
        for bad in ({**fields, "no_such_field": 1}, {k: v for k, v in fields.items() if k != game_fields[0]},
                    {**fields, "score": -1}, {**fields, game_fields[0]: first[..., None]},
                    {**fields, game_fields[0]: first.astype(np.float64) + 0.5}):
            try:
                env.unwrapped.make_state(**bad)
            except StateError:
                continue
            raise _Failed(f"make_state accepted bad fields {sorted(bad)}")
    vec.close()


def _score(t: _Target, seed: int) -> None:
    vec = t.make_vec(4, obs_mode="text")
    vec.reset(seed=seed)
    vec.random_steps(3)
    states = vec.get_states()
    game = vec.game
    answers, repeated = [], []
    rng = np.random.default_rng(seed)
    masks = vec.legal_masks(states)
    for s, mask in zip(states, masks):
        legal = np.flatnonzero(mask)
        for j in range(5):
            pick = int(legal[j % len(legal)] if j < 3 and len(legal) else rng.integers(game.num_actions))
            answers.append(_answers(game, [pick])[0] if j != 4 else "no idea")
            repeated.append(s)
    before = [s.to_bytes() for s in vec.get_states()]
    rewards, infos = vec.score(repeated, answers, return_states=True)
    _require([s.to_bytes() for s in vec.get_states()] == before, "score() changed the live envs")
    single = t.make(obs_mode="text")
    single.reset(seed=seed)
    for i, (s, a) in enumerate(zip(repeated, answers)):
        single.unwrapped.set_state(s)
        _, r, te, _, info = single.step(a)
        _require(r == rewards[i] and info["action_status"] == infos["action_status"][i]
                 and te == infos["terminated"][i], f"answer {i}: score() and stepping a restored copy disagree")
        _require(single.unwrapped.get_state() == infos["next_state"][i], f"answer {i}: next states differ")
    r2, _ = vec.score(repeated, answers)
    _require(np.array_equal(rewards, r2), "identical (state, answer) pairs scored differently")
    vec.close()


def _legal_masks(t: _Target, seed: int) -> None:
    vec, states = _sampled(t, 4, seed, moves=10)
    game = vec.game
    masks = vec.legal_masks(states)
    _require(masks.shape == (len(states), game.num_actions) and masks.dtype == bool,
             f"legal_masks must be bool (n, {game.num_actions}), got {masks.dtype} {masks.shape}")
    _require(np.array_equal(masks, vec.legal_masks()), "legal_masks(states) differs from the live envs' masks")
    single = t.make(obs_mode="text", action_mode="index")
    single.reset(seed=seed)
    terminal = vec.terminal(states)
    rng = np.random.default_rng(seed)
    for i, (state, mask) in enumerate(zip(states, masks)):
        _require(np.array_equal(single.unwrapped.legal_actions(state), mask), f"state {i}: legal_actions(state) differs")
        _require(single.unwrapped.is_terminal(state) == bool(terminal[i]), f"state {i}: is_terminal differs")
        single.reset(options={"state": state})
        _require(np.array_equal(single.unwrapped.legal_actions(), mask), f"state {i}: the live mask differs")
        legal = np.flatnonzero(mask)
        if not len(legal):
            _require(terminal[i], f"state {i} has no legal move but is not terminal")
        illegal = np.flatnonzero(~mask)
        if len(illegal) > 64:
            illegal = rng.choice(illegal, 64, replace=False)
        picks = np.concatenate([legal, illegal]).astype(np.int64)
        _, info = vec.score([state] * len(picks), _answers(game, picks), return_states=True)
        status = info["action_status"]
        bad = [int(p) for p, st in zip(picks[:len(legal)], status[:len(legal)]) if st != "ok"]
        _require(not bad, f"state {i}: legal index actions {bad[:5]} were not 'ok' when played")
        bad = [int(p) for p, st in zip(picks[len(legal):], status[len(legal):]) if st != "illegal"]
        _require(not bad, f"state {i}: illegal index actions {bad[:5]} were not 'illegal' when played")
        if len(picks):
            after = vec.terminal(info["next_state"])
            _require(np.array_equal(after, info["terminated"]), f"state {i}: terminal() disagrees with stepping")
    vec.close()


def _codec(t: _Target, seed: int) -> None:
    vec, states = _sampled(t, 2, seed)
    game, codec = vec.game, vec.game.codec
    n = game.num_actions
    rng = np.random.default_rng(seed)
    index = np.arange(n) if n <= _MAX_INDICES else np.unique(np.concatenate(
        [rng.choice(n, _MAX_INDICES, replace=False), *[np.flatnonzero(m) for m in vec.legal_masks(states)]]))
    arr = game.decode(index)
    _require(arr.dtype == np.int64 and arr.shape == (len(index), codec.arity),
             f"decode must give int64 (n, {codec.arity}), got {arr.dtype} {arr.shape}")
    _require(np.array_equal(game.encode(arr), index), "encode(decode(i)) != i")
    actions = codec.from_arrays(arr)
    _require(np.array_equal(codec.to_arrays(actions), arr), "to_arrays(from_arrays(a)) != a")
    for i, action in zip(index.tolist(), actions):
        text = codec.format(action)
        parsed = game.parse(f"<answer>{text}</answer>")
        _require(parsed.ok and parsed.action == action, f"index {i}: {action!r} formats as {text!r}, which parses "
                 f"as {parsed.action!r} ({parsed.reason})")
        _require(codec.from_json(json.loads(json.dumps(codec.to_json(action)))) == action,
                 f"index {i}: {action!r} does not survive its JSON form")
        _require(codec.from_array(codec.to_array(action)) == action, f"index {i}: to_array/from_array")
        cells = codec.cells(action)
        if codec.cells_per_action:
            _require(len(cells) == codec.cells_per_action, f"{action!r} names {len(cells)} cells, the codec's "
                     f"clicks are {codec.cells_per_action}")
            _require(action in [codec.click_action(cells, b) for b in (1, 3)],
                     f"clicking the cells of {action!r} does not give it back")
        _require(isinstance(codec.describe(action), str), "describe() must return text")
    if not codec.cells_per_action:
        for key in codec.key_names():
            action = codec.key_action(key)
            _require(action is None or game.parse(f"<answer>{codec.format(action)}</answer>").action == action,
                     f"key {key!r} gives an action that does not round trip")
    _require(codec.controls(), "controls() must describe how a person plays")
    vec.close()


def _tools(t: _Target, seed: int) -> None:
    vec, states = _sampled(t, 1, seed)
    game, codec = vec.game, vec.game.codec
    tools = codec.tools()
    names = [tool.name for tool in tools]
    _require(tools and len(set(names)) == len(names), f"tools must be one or more with distinct names, got {names}")
    for tool in tools:
        _require(tool.name.isidentifier() and not tool.name.startswith("_") and
                 tool.name not in ("reset", "get_reward"), f"tool name {tool.name!r} cannot be a method")
        doc = tool.docstring()
        _require(tool.summary.strip() and "Args:" in doc and "Returns:" in doc, f"{tool.name}: docstring sections")
        for a in tool.args:
            _require(a.name.isidentifier() and a.type in (int, str) and a.doc.strip() and f"    {a.name}: " in doc,
                     f"{tool.name}: argument {a.name!r} must be an int or str with a description")
    index = np.flatnonzero(vec.legal_masks(states)[0])[:32]
    if not len(index):
        index = np.arange(min(game.num_actions, 32))
    for action in codec.from_arrays(game.decode(index)):
        name, arguments = codec.tool_call(action)
        _require(name in names, f"tool_call({action!r}) names an unknown tool {name!r}")
        tool = tools[names.index(name)]
        _require(sorted(arguments) == sorted(a.name for a in tool.args), f"{name}: arguments {sorted(arguments)}")
        answer = tool.answer(**arguments)
        _require(game.parse(f"<answer>{answer}</answer>").action == action,
                 f"{name}({arguments}) answers {answer!r}, which is not {action!r}")
    vec.close()


def _board_text(t: _Target, seed: int) -> None:
    vec, states = _sampled(t, 3, seed)
    game = vec.game
    texts = vec.board_texts(states)
    limit = game.text_max_length()
    for i, (state, text) in enumerate(zip(states, texts)):
        _require(isinstance(text, str) and text, f"state {i}: empty board text")
        _require(len(text) <= limit, f"state {i}: board text of {len(text)} chars exceeds text_max_length {limit}")
        _require(set(text) <= TEXT_CHARSET, f"state {i}: board text has characters outside printable ASCII")
        _require(vec.board_texts([state]) == [text], f"state {i}: board text is not deterministic")
    single = t.make(obs_mode="text")
    single.reset(options={"state": states[0]})
    _require(single.unwrapped.board_text() == texts[0], "the single env's board text differs")
    for answer in ("nothing", *_answers(game, np.flatnonzero(~vec.legal_masks(states[:1])[0])[:3])):
        _, _, _, _, info = single.step(answer)
        _require(info["action_status"] != "ok" and info["board_text"] == texts[0],
                 f"{answer!r} changed nothing but the board text changed")
    vec.close()


def _frames(t: _Target, seed: int) -> None:
    env = t.make(render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    core = env.unwrapped
    shape = env.observation_space.shape
    _require(obs.shape == shape == core.layout.image_shape and obs.dtype == np.uint8,
             f"image {obs.shape} vs space {shape} vs layout {core.layout.image_shape}")
    _require(not obs.flags.writeable, "image observations must be read-only")
    _require(np.array_equal(env.render(), obs), "render() differs from the observation")
    for answer in ("nothing", *_answers(core.game, np.flatnonzero(~core.legal_actions())[:2])):
        before = core.frames_composed
        new, _, _, _, info = env.step(answer)
        _require(core.frames_composed == before + 1, "a step must compose exactly one frame")
        _require(info["action_status"] != "ok" and np.array_equal(new, obs),
                 f"{answer!r} changed nothing but the picture changed")
    legal = np.flatnonzero(core.legal_actions())
    if len(legal):
        new, _, _, _, info = env.step(_answers(core.game, legal[:1])[0])
        _require(info["action_status"] == "ok", "a legal move was not 'ok'")
    vec = t.make_vec(3, obs_mode="image+text")
    vobs, vinfo = vec.reset(seed=seed)
    other = t.make_vec(1)  # another env renders and describes the same states alike
    again = other.render_states(vec.get_states())
    _require(other.frames_composed == 3, "render_states must compose one frame per state")
    _require(np.array_equal(again, vobs["image"]), "render_states differs from the live observations")
    _require(other.board_texts(vec.get_states()) == list(vinfo["board_text"]), "board_texts differs from info")
    vec.close()
    other.close()


def _sampler(t: _Target, seed: int) -> None:
    from vlmgym.envs.sampling import sample_states

    vec = t.make_vec(4)
    vec.reset(seed=seed)
    frames = vec.frames_composed
    _require(frames == 4, f"reset composed {frames} frames for 4 envs")
    vec.random_steps(vec.game.sampler_steps or 10)
    _require(vec.frames_composed == frames, "random_steps composed frames")
    obs, _ = vec.observe()
    _require(vec.frames_composed == frames + 4 and obs.shape[0] == 4, "observe() must compose one frame per env")
    vec.close()
    if t.env_id is None:
        return
    sampled = sample_states(t.env_id, 3, seed=seed + 1, **t.kwargs)
    again = sample_states(t.env_id, 3, seed=seed + 1, **t.kwargs)
    _require(sampled.states == again.states and np.array_equal(sampled.obs, again.obs),
             "sample_states with the same seed differs")
    five = sample_states(t.env_id, 5, seed=seed + 2, **t.kwargs)
    _require(five.frames_composed == 5, f"sample_states composed {five.frames_composed} frames for 5 states")


def _oracle(t: _Target, seed: int) -> None:
    from vlmgym.eval.interface import Query
    from vlmgym.eval.oracle import OraclePolicy

    vec, states = _sampled(t, 4, seed)
    queries = [Query(t.label, i, 1, "", None, seed=seed + i, state=s, env=vec) for i, s in enumerate(states)]
    answers = OraclePolicy()(queries)
    _require(answers == OraclePolicy()(queries), "the oracle is not deterministic")
    _, info = vec.score(states, answers)
    has_move = [bool(m.any()) for m in vec.legal_masks(states)]
    bad = [i for i, (ok, st) in enumerate(zip(has_move, info["action_status"])) if ok and st != "ok"]
    _require(not bad, f"the oracle's answers for states {bad} were not legal: {[answers[i] for i in bad]}")
    vec.close()


def _bad_input(t: _Target, seed: int) -> None:
    def refuses(exc: type[Exception], match: str, fn: Callable[[], Any]) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn()
        except exc as e:
            _require(match in str(e), f"{exc.__name__} should mention {match!r}: {e}")
            return
        raise _Failed(f"expected {exc.__name__} mentioning {match!r}")

    refuses(ValueError, "obs_mode", lambda: t.make(obs_mode="pixels"))
    refuses(ValueError, "action_mode", lambda: t.make(action_mode="continuous"))
    refuses(ValueError, "reward_mode", lambda: t.make(reward_mode="dense"))
    refuses(ValueError, "render_mode", lambda: t.make(render_mode="ansi"))
    if t.env_id is not None:
        refuses(ValueError, "Allowed", lambda: t.make(no_such_knob=1))
    env = t.make(action_mode="index")
    env.reset(seed=seed)
    n = env.action_space.n
    refuses(TypeError, "Discrete", lambda: env.step("<answer>1</answer>"))
    refuses(TypeError, "", lambda: env.step(1.5))
    refuses(ValueError, "outside", lambda: env.step(n))
    refuses(ValueError, "outside", lambda: env.step(-1))
    env = t.make()
    env.reset(seed=seed)
    refuses(TypeError, "str", lambda: env.step(3))
    for text in ["", "\x00" * 100, "<answer>", "</answer><answer>", "é" * 5000, "<answer>-1</answer>",
                 "<answer>99999999999999999999999 1 2 3</answer>", "<answer>(0,0) (0,0)</answer>",
                 "<answer>(7, 7) (100, 100)</answer>", "\U0001F600<answer>\u0663</answer>", "x" * 100_000]:
        _, r, _, _, info = env.step(text)
        _require(info["action_status"] in ("ok", "illegal", "unparsable") and r in (-1.0, 1.0),
                 f"model text {text[:20]!r}: status {info['action_status']!r}, reward {r!r}")


def _autoreset(t: _Target, seed: int) -> None:
    from gymnasium.vector import AutoresetMode

    try:
        t.make_vec(2, autoreset_mode="sometimes")
    except ValueError as exc:
        _require("next_step" in str(exc), f"a bad autoreset_mode should name the allowed ones: {exc}")
    else:
        raise _Failed("autoreset_mode='sometimes' was accepted")
    for mode in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED):
        vec = t.make_vec(3, autoreset_mode=mode.value, max_episode_steps=2, obs_mode="text")
        _require(vec.metadata["autoreset_mode"] == mode, f"{mode}: metadata['autoreset_mode'] is wrong")
        obs, _ = vec.reset(seed=seed)
        vec.step(["x"] * 3)
        obs, reward, term, trunc, info = vec.step(["x"] * 3)
        _require(trunc.all() and not term.any(), f"{mode}: two unparsable steps should truncate at 2")
        if mode == AutoresetMode.SAME_STEP:
            _require(info["_final_obs"].all() and info["final_info"]["steps"].tolist() == [2, 2, 2]
                     and info["steps"].tolist() == [0, 0, 0] and info["autoreset"].all()
                     and info["final_info"]["action_status"].tolist() == ["unparsable"] * 3,
                     "SAME_STEP: final_obs/final_info or the new games are wrong")
        elif mode == AutoresetMode.NEXT_STEP:
            _require("final_obs" not in info and info["steps"].tolist() == [2, 2, 2] and not info["autoreset"].any()
                     and obs == tuple(info["board_text"]), "NEXT_STEP: the step that ends must show the last board")
            finished = vec.get_states([2])[0]
            vec.set_states([finished], [2])  # restoring a state cancels its pending restart
            legal = [int(np.flatnonzero(m)[0]) if m.any() else 0 for m in vec.legal_masks()]
            obs2, reward, term, trunc, info = vec.step(_answers(vec.game, legal))
            _require(info["autoreset"].tolist() == [True, True, False]
                     and info["action_status"][:2].tolist() == ["ignored", "ignored"]
                     and reward[:2].tolist() == [0.0, 0.0] and not term[:2].any() and not trunc[:2].any()
                     and info["steps"][:2].tolist() == [0, 0] and info["action"][0] is None,
                     "NEXT_STEP: the step after the end must restart with the answer ignored, reward 0")
            # env 2 played its legal move at the step budget: truncated, unless that move ended the game
            # (a Minesweeper reveal may hit a mine or clear the board)
            _require(info["action_status"][2] != "ignored" and (trunc[2] or term[2]),
                     "NEXT_STEP: set_states must cancel the restart")
            for i in range(2):  # the new game is env i's next one, as a single env seeded seed + i deals it
                single = t.make(obs_mode="text")
                single.reset(seed=seed + i)
                _require(single.reset()[0] == obs2[i], f"NEXT_STEP: env {i} restarted with another game than "
                         "a single env's second one")
        else:
            _require("final_obs" not in info and info["steps"].tolist() == [2, 2, 2] and not info["autoreset"].any(),
                     "DISABLED reset by itself")
            mask = np.array([True, False, True])
            before = vec.get_states([1])[0]
            obs2, info2 = vec.reset(options={"reset_mask": mask})
            _require(info2["steps"].tolist() == [0, 2, 0] and info2["_steps"].tolist() == [True, False, True]
                     and vec.get_states([1])[0] == before and obs2[1] == obs[1], "reset_mask reset the wrong envs")
        vec.close()


def _image_sizes(t: _Target, seed: int) -> None:
    for kw in ({}, {"show_coords": True}, {"hud": True}, {"hud": False}):
        obs, _ = t.make(**kw).reset(seed=seed)
        _require(obs.shape[0] % 28 == 0 and obs.shape[1] % 28 == 0 and obs.dtype == np.uint8,
                 f"{kw}: image {obs.shape} is not a multiple of 28 px")
    obs, _ = t.make(image_size="paper").reset(seed=seed)
    _require(obs.shape == (840, 640, 3), f"image_size='paper' gave {obs.shape}")
    try:
        t.make(image_size=(10, 10))
    except ValueError as exc:
        _require("image_size" in str(exc), f"a too small image_size should say so: {exc}")
    else:
        raise _Failed("image_size=(10, 10) was accepted")


def _human_render(t: _Target, seed: int) -> None:
    try:
        import pygame  # noqa: F401
    except ImportError:
        return  # human rendering is the optional extra; rgb_array is checked by check_env
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HumanRendering wrapper is being applied.*")
        if t.env_id is not None:
            env = t.make(render_mode="human")
        else:
            env = gym.wrappers.HumanRendering(t.make(render_mode="rgb_array"))
    _require(env.render_mode == "human", f"render_mode='human' gave {env.render_mode!r}")
    env.reset(seed=seed)
    env.step("nothing")
    env.close()
    env.close()


_CHECKS: dict[str, Callable[[_Target, int], None]] = {
    "check_env": _check_env,
    "determinism": _determinism,
    "vector_matches_single": _vector_matches_single,
    "snapshots": _snapshots,
    "successors": _successors,
    "rules": _rules,
    "make_state": _make_state,
    "score": _score,
    "legal_masks": _legal_masks,
    "codec": _codec,
    "tools": _tools,
    "board_text": _board_text,
    "frames": _frames,
    "sampler": _sampler,
    "oracle": _oracle,
    "bad_input": _bad_input,
    "autoreset": _autoreset,
    "image_sizes": _image_sizes,
    "human_render": _human_render,
}
#: Every check's name, in the order :func:`check_game` runs them.
CHECKS = tuple(_CHECKS)


def check_game(target: str | Game | type[Game], *, env_kwargs: Mapping[str, Any] | None = None,
               checks: Iterable[str] | None = None, seed: int = 0) -> None:
    """Run the conformance checks on an env id or a game (see the module docstring).

    Args:
        target: a registered id (vlmgym's entry points), a :class:`~vlmgym.core.game.Game`
            instance, or a Game class (built with its defaults).
        env_kwargs: extra kwargs for every env of an id (e.g. ``cifar10_path``).
        checks: names from :data:`CHECKS` to run (default: all).
        seed: base seed of the boards checked.

    Raises:
        GameCheckError: naming the game and the check that failed, with the details.
    """
    names = list(CHECKS if checks is None else checks)
    unknown = [n for n in names if n not in _CHECKS]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; choose from {list(CHECKS)}")
    t = _Target(target, env_kwargs)
    for name in names:
        try:
            _CHECKS[name](t, seed)
        except _Failed as exc:
            raise GameCheckError(f"check_game({t.label}): check {name!r} failed: {exc}") from None
        except Exception as exc:
            raise GameCheckError(f"check_game({t.label}): check {name!r} raised {type(exc).__name__}: {exc}") from exc
