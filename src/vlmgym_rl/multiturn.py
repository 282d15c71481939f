"""Multi-turn episodes: a game as a TRL ``environment_factory`` (beyond the paper).

The paper (and G0) score single decisions. Here the model plays several moves of one game in one
completion: each move is a tool call, the tool answers with the move's result and a picture of the
new board, and the episode is scored once at the end::

    from trl import GRPOConfig, GRPOTrainer
    from vlmgym_rl.multiturn import episode_dataset, episode_factory, use_tool_chat_template

    processor = use_tool_chat_template(AutoProcessor.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct"))
    trainer = GRPOTrainer(model=..., processing_class=processor, reward_funcs=[],
                          environment_factory=episode_factory("VLMGym/2048-v0", max_moves=6),
                          train_dataset=episode_dataset("VLMGym/2048-v0", 1024, max_moves=6),
                          args=GRPOConfig(max_tool_calling_iterations=6, max_completion_length=4096, ...))

TRL's contract (1.16, ``GRPOTrainer(environment_factory=...)``), and how the adapter meets it:

* TRL makes one instance per rollout (pooled, reused) and calls ``reset(**row)`` with every column
  of the dataset row. :meth:`VLMGymEpisode.reset` starts the game from the row: ``state`` (a
  serialized :class:`vlmgym.GameState`, e.g. from a G0 state dataset) or ``seed`` (reset with that
  seed, then ``k`` random moves: the paper's state sampler). It returns the first board as content
  blocks (picture, plus the board text with ``obs_mode="image+text"``), which TRL appends to the
  prompt; rows that already carry the picture in an ``image`` column get no second copy.
* Every other public method is a tool, described to the model by its type hints and Google-style
  docstring. The tools come from the game's action codec (``game.codec.tools()``: name, typed
  arguments, docstring, and the answer text a call stands for), so every game gets its own without
  code here: 2048 ``move(direction)``; Shisen-Sho ``remove_pair(row1, col1, row2, col2)``; Swap
  ``swap_tiles(row1, col1, row2, col2)``; a game with verbs on cells, one tool per verb. A tool
  call plays one move (its answer text, judged like any model reply) and returns its result and
  the new board's picture (tool results may hold images; TRL feeds them to the model for the next
  turn and to the training forward pass). Moves after the game ended or beyond ``max_moves``
  raise, which TRL reports to the model as an error and counts in ``tools/failure_frequency``.
* ``get_reward()`` scores the finished episode: the sum of the moves' rewards (``binary``: +1 per
  successful move, -1 per failed one; ``score``: the score gained); an episode without a move gets
  ``no_move_reward``. TRL logs it as ``rewards/<class name>/mean``.

Limits (TRL 1.16):

* **One advantage per episode.** The episode is one completion; TRL masks the tool results out of
  the loss and gives every generated token the episode's group-normalised advantage. A good move
  in a failed episode is pushed down with the rest; there is no per-move credit assignment.
* **History length.** The whole episode -- every turn's text, every tool result and every board
  picture (Qwen2.5-VL: one token per 28x28 pixels, e.g. 72 for a 224x252 board, plus 2) -- must
  fit ``max_completion_length``; a tool result that would not fit is dropped and the episode ends
  there. ``max_tool_calling_iterations`` bounds the turns. Budget roughly
  ``moves x (answer tokens + image tokens + 30)``.
* **Chat template.** Qwen2.5-VL's own template cannot render tool calls or tool messages, and
  TRL refuses it. :func:`use_tool_chat_template` swaps in TRL's ``qwen3_vl.jinja``: the same special
  tokens (``<|im_start|>``, ``<|vision_start|><|image_pad|><|vision_end|>``, ``<tool_call>``), tool
  calls as ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``, tool results as a user turn
  with ``<tool_response>`` blocks that may hold pictures. Unlike Qwen2.5-VL's template it adds no
  default system message, so :func:`episode_dataset` writes Qwen2.5-VL's ("You are a helpful
  assistant.") unless told otherwise.
* The per-step G0 rewards and the rollout log do not apply; TRL's completion tables
  (``log_completions``) show whole episodes.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

import vlmgym
from vlmgym.core.actions import ToolSpec
from vlmgym_rl.states import GamesLike, GameSpec, allocate, as_game_specs, derive_seed

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "EpisodeMetrics",
    "VLMGymEpisode",
    "episode_dataset",
    "episode_factories",
    "episode_factory",
    "tool_name",
    "tool_names",
    "use_tool_chat_template",
]

#: Qwen2.5-VL's default system message (its own template adds it; qwen3_vl.jinja does not).
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
_REWARD_MODES = ("binary", "score")
_OBS_MODES = ("image", "image+text")


class VLMGymEpisode:
    """Base class of the episode adapters: one game played over several tool calls.

    Use :func:`episode_factory`: it makes a subclass named after the game (``Game2048Episode``,
    ...) with the game's move tools as methods (from ``game.codec.tools()``) and the settings as
    class attributes (TRL calls the factory without arguments). Only ``reset``, ``get_reward`` and
    the tools are public methods: TRL turns every public method into a tool.
    """

    env_id: ClassVar[str | None] = None
    env_kwargs: ClassVar[Mapping[str, Any]] = {}
    max_moves: ClassVar[int] = 8
    obs_mode: ClassVar[str] = "image"
    reward_mode: ClassVar[str] = "binary"
    no_move_reward: ClassVar[float | None] = None

    def __init__(self) -> None:
        self._vec: Any = None
        self._vec_key: tuple[str, str] | None = None
        self._moves: list[dict[str, Any]] = []
        self._over = False
        self._end_reason: str | None = None
        self._start: vlmgym.GameState | None = None

    # -- TRL's interface ----------------------------------------------------------------------------
    def reset(self, **row: Any) -> list[dict[str, Any]] | None:
        """Start an episode from a dataset row (``state`` or ``seed`` [+ ``k``]); see the module doc."""
        env_id = row.get("env_id") or self.env_id
        if env_id is None:
            raise ValueError("rows need an 'env_id' column (or use episode_factory(env_id))")
        if self.env_id is not None and env_id != self.env_id:
            raise ValueError(f"this episode class plays {self.env_id}, but the row is for {env_id}; use "
                             "episode_factories() with an 'environment' column for several games")
        kwargs = row.get("env_kwargs")
        kwargs_json = kwargs if isinstance(kwargs, str) else json.dumps(dict(kwargs or self.env_kwargs),
                                                                        sort_keys=True, separators=(",", ":"))
        vec = self._env(env_id, kwargs_json)
        if row.get("state") is not None:
            vec.set_states([vlmgym.GameState.from_bytes(bytes(row["state"]))])
        elif row.get("seed") is not None:
            vec.reset_states(seed=int(row["seed"]))
            k = row.get("k")
            if k:
                vec.random_steps(int(k))
        else:
            raise ValueError(f"rows need a 'seed' or a 'state' column to start an episode (got {sorted(row)})")
        self._start = vec.get_states()[0]
        self._moves = []
        self._over = False
        self._end_reason = None
        obs, info = vec.observe()
        blocks = self._board_blocks(obs, info, picture=row.get("image") is None)
        return blocks or None

    def get_reward(self) -> float:
        """The episode's reward: the sum of its moves' rewards (``no_move_reward`` without a move)."""
        if not self._moves:
            if self.no_move_reward is not None:
                return float(self.no_move_reward)
            return -1.0 if self.reward_mode == "binary" else 0.0
        return float(sum(m["reward"] for m in self._moves))

    # -- read-only views (properties are not tools) --------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """The moves of the current episode: answer, status, success, reward, terminated."""
        return [dict(m) for m in self._moves]

    @property
    def start_state(self) -> vlmgym.GameState | None:
        """The state the current episode started from."""
        return self._start

    @property
    def finished(self) -> bool:
        """Whether the game ended (or the move budget is spent)."""
        return self._over or len(self._moves) >= self.max_moves

    # -- internals --------------------------------------------------------------------------------------
    def _env(self, env_id: str, kwargs_json: str) -> Any:
        key = (env_id, kwargs_json)
        if self._vec is None or self._vec_key != key:
            vlmgym.require_vlmgym_id(env_id)
            if self._vec is not None:
                self._vec.close()
            self._vec = gym.make_vec(env_id, num_envs=1, obs_mode=self.obs_mode, action_mode="text",
                                     reward_mode=self.reward_mode, autoreset_mode="disabled",
                                     **json.loads(kwargs_json or "{}"))
            self._vec_key = key
        return self._vec

    def _board_blocks(self, obs: Any, info: Mapping[str, Any], picture: bool = True) -> list[dict[str, Any]]:
        from PIL import Image

        blocks: list[dict[str, Any]] = []
        frame = obs["image"] if isinstance(obs, dict) else obs
        if picture:
            blocks.append({"type": "image", "image": Image.fromarray(np.asarray(frame[0]))})
        if self.obs_mode == "image+text":
            blocks.append({"type": "text", "text": f"Current board:\n{info['board_text'][0]}"})
        return blocks

    def _play(self, answer: str) -> list[dict[str, Any]]:
        """Apply one move (the game's answer text); the tool result as content blocks."""
        if self._vec is None:
            raise RuntimeError("the episode was not reset")
        if self._over:
            raise ValueError(f"the game is over ({self._end_reason}); give your final answer without a tool call")
        if len(self._moves) >= self.max_moves:
            raise ValueError(f"no moves left: this episode allows {self.max_moves}; give your final answer")
        obs, reward, terminated, truncated, info = self._vec.step([f"<answer>{answer}</answer>"])
        status = str(info["action_status"][0])
        success = bool(info["success"][0])
        r = float(reward[0])
        self._moves.append({"answer": answer, "status": status, "success": success, "reward": r,
                            "terminated": bool(terminated[0]), "truncated": bool(truncated[0])})
        n = len(self._moves)
        if status == "unparsable":
            what = f"Move {n} could not be read: {info.get('parse_error', [None])[0] or 'bad arguments'}."
        elif status == "illegal":
            what = f"Move {n} is not allowed here; the board did not change."
        elif success:
            what = f"Move {n} succeeded."
        else:
            what = f"Move {n} was played but did not succeed."
        what += f" Reward {r:+g}."
        if terminated[0] or truncated[0]:
            self._over = True
            end = info.get("end_reason", [None])[0]
            self._end_reason = str(end) if end else "time limit"
            what += f" The game is over ({self._end_reason})."
        elif n >= self.max_moves:
            what += " That was the last move of this episode."
        else:
            what += f" {self.max_moves - n} move(s) left. The new board:"
        blocks = [{"type": "text", "text": what}]
        if not self._over:
            blocks += self._board_blocks(obs, info)
        return blocks

    def __del__(self) -> None:
        if getattr(self, "_vec", None) is not None:
            self._vec.close()


def _tool_method(tool: ToolSpec) -> Callable[..., list[dict[str, Any]]]:
    """A method that plays the answer ``tool`` stands for, with the tool's signature and docstring
    (what TRL reads to describe the tool to the model)."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(a.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=a.type)
               for a in tool.args]
    returns = list[dict[str, Any]]
    signature = inspect.Signature(params, return_annotation=returns)

    def method(self: VLMGymEpisode, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        arguments = signature.bind(self, *args, **kwargs).arguments
        arguments.pop("self")
        return self._play(tool.answer(**arguments))

    method.__name__ = method.__qualname__ = tool.name
    method.__doc__ = tool.docstring()
    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__annotations__ = {**{a.name: a.type for a in tool.args}, "return": returns}
    return method


def _game_of(env_id: str, env_kwargs: Mapping[str, Any]) -> Any:
    vec: Any = gym.make_vec(env_id, num_envs=1, obs_mode="text", **dict(env_kwargs))
    try:
        return vec.game
    finally:
        vec.close()


def tool_names(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> list[str]:
    """The names of a game's move tools (``["move"]``, ``["remove_pair"]``, ``["swap_tiles"]``, ...)."""
    vlmgym.require_vlmgym_id(env_id)
    return [t.name for t in _game_of(env_id, env_kwargs or {}).codec.tools()]


def tool_name(env_id: str) -> str:
    """The name of a game's (first) move tool: ``move``, ``remove_pair``, ``swap_tiles``, ..."""
    return tool_names(env_id)[0]


def episode_factory(env_id: str, env_kwargs: Mapping[str, Any] | None = None, *, max_moves: int = 8,
                    obs_mode: str = "image", reward_mode: str = "binary",
                    no_move_reward: float | None = None) -> type[VLMGymEpisode]:
    """An ``environment_factory`` for one game: a :class:`VLMGymEpisode` subclass with these settings.

    Args:
        env_id: a registered id.
        env_kwargs: game/render kwargs (as for ``gym.make``; driving modes are set here).
        max_moves: moves per episode (further tool calls fail).
        obs_mode: ``"image"`` (board pictures) or ``"image+text"`` (pictures plus the board text).
        reward_mode: ``"binary"`` (+1/-1 per move) or ``"score"`` (score gained per move).
        no_move_reward: reward of an episode without a move (default -1 binary, 0 score).
    """
    vlmgym.require_vlmgym_id(env_id)
    if isinstance(max_moves, bool) or not isinstance(max_moves, int) or max_moves < 1:
        raise ValueError(f"max_moves must be a positive integer, got {max_moves!r}")
    if obs_mode not in _OBS_MODES:
        raise ValueError(f"obs_mode must be one of {_OBS_MODES}, got {obs_mode!r}")
    if reward_mode not in _REWARD_MODES:
        raise ValueError(f"reward_mode must be one of {_REWARD_MODES}, got {reward_mode!r}")
    spec = GameSpec(env_id, dict(env_kwargs or {}))  # validates the kwargs' form
    game = _game_of(env_id, spec.env_kwargs)  # fails now on bad kwargs
    tools = game.codec.tools()
    # named after the game: TRL logs the episode reward as rewards/<class name>/mean
    name = f"{type(game).__name__}Episode"
    calls = ", ".join(f"{t.name}({', '.join(a.name for a in t.args)})" for t in tools)
    return type(name, (VLMGymEpisode,), {
        **{t.name: _tool_method(t) for t in tools},
        "env_id": env_id, "env_kwargs": dict(spec.env_kwargs), "max_moves": int(max_moves),
        "obs_mode": obs_mode, "reward_mode": reward_mode, "no_move_reward": no_move_reward,
        "__module__": __name__, "__doc__": f"{game.name} episodes: {calls}. Settings: {env_id} "
                                           f"{dict(spec.env_kwargs)}, {max_moves} moves, {obs_mode}, "
                                           f"{reward_mode} rewards.",
    })


def episode_factories(games: GamesLike, **options: Any) -> dict[str, type[VLMGymEpisode]]:
    """``environment_factory`` for several games: ``{spec.key: factory}`` (rows select one with
    their ``environment`` column, as :func:`episode_dataset` writes it for a mixture)."""
    return {s.key: episode_factory(s.env_id, s.env_kwargs, **options) for s in as_game_specs(games)}


def _instruction(env_id: str, env_kwargs: Mapping[str, Any], max_moves: int) -> str:
    vec: Any = gym.make_vec(env_id, num_envs=1, obs_mode="image", **dict(env_kwargs))
    try:
        _, info = vec.reset(seed=0)
        rules = str(info["prompt"][0])
        names = [f"`{t.name}`" for t in vec.game.codec.tools()]
    finally:
        vec.close()
    how = f"the tool {names[0]}" if len(names) == 1 else f"one of the tools {', '.join(names[:-1])} or {names[-1]}"
    return (f"{rules}\n\nThis time you play up to {max_moves} moves in a row. Do not write <answer>: make each "
            f"move by calling {how}. Before each call, write the board in <perception></perception> "
            "and your reasoning in <think></think> as described above. After each move you get its result and "
            "a picture of the new board. When the game is over or you have no moves left, reply without a tool "
            "call.\n\nThe current board:")


def episode_dataset(games: GamesLike, num_episodes: int, *, seed: int = 0, max_moves: int = 8,
                    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT, sample_k: bool = True) -> Any:
    """A dataset of episode starts: one row per episode, for ``GRPOTrainer(environment_factory=...)``.

    Columns: ``prompt`` (the game's rules plus how to play with the tool; TRL appends the first
    board), ``env_id``, ``env_kwargs``, ``seed`` and ``k`` (reset with ``seed``, then ``k`` random
    moves: the paper's K per game when ``sample_k``, else 0), and ``environment`` (the game key)
    when there are several games. Episodes are split evenly over the games (by weight) and
    interleaved; the same arguments always give the same rows.
    """
    from datasets import Dataset

    specs = as_game_specs(games)
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, (int, np.integer)) or num_episodes < 1:
        raise ValueError(f"num_episodes must be a positive integer, got {num_episodes!r}")
    counts = allocate(int(num_episodes), np.array([s.weight for s in specs]), None)
    rows = []
    for i, (spec, n) in enumerate(zip(specs, counts)):
        vec: Any = gym.make_vec(spec.env_id, num_envs=1, obs_mode="text", **spec.env_kwargs)
        k = (vec.game.sampler_steps if spec.k is None else spec.k) if sample_k else 0
        vec.close()
        text = _instruction(spec.env_id, spec.env_kwargs, max_moves)
        prompt = [{"role": "user", "content": [{"type": "text", "text": text}]}]
        if system_prompt:
            prompt.insert(0, {"role": "system", "content": [{"type": "text", "text": system_prompt}]})
        for j in range(int(n)):
            row = {"prompt": prompt, "env_id": spec.env_id, "env_kwargs": spec.kwargs_json,
                   "seed": derive_seed(seed, i, j) & 0x7FFFFFFF, "k": int(k)}
            if len(specs) > 1:
                row["environment"] = spec.key
            rows.append(row)
    order = np.random.default_rng(derive_seed(seed, 1 << 23)).permutation(len(rows))
    return Dataset.from_list([rows[j] for j in order])


class EpisodeMetrics:
    """A reward function that scores nothing new but logs what happened in the episodes.

    Add it with weight 0 (``reward_weights=[0.0]``): it returns each episode's number of successful
    moves and logs, per game, ``vlmgym_episode/<game>/moves`` (moves played), ``successes``,
    ``success_rate`` (per move), ``illegal_rate``, ``unparsable_rate`` and ``finished_rate`` (the
    game ended or the move budget was spent). TRL passes the rollouts' environments as
    ``environments``.
    """

    __name__ = "episode_successes"

    def __call__(self, prompts: Any = None, completions: Any = None, *, environments: Sequence[Any] | None = None,
                 log_metric: Any = None, **kwargs: Any) -> list[float | None]:
        if environments is None:
            raise ValueError("EpisodeMetrics needs the trainer's environments (GRPOTrainer with environment_factory)")
        out: list[float | None] = []
        per_game: dict[str, list[Any]] = {}
        for env in environments:
            if not isinstance(env, VLMGymEpisode):
                out.append(None)
                continue
            moves = env.history
            out.append(float(sum(m["success"] for m in moves)))
            key = (env._vec_key[0] if env._vec_key else env.env_id or "?").split("/", 1)[-1]
            per_game.setdefault(key, []).append((moves, env.finished))
        if log_metric is not None:
            for key in sorted(per_game):
                episodes = per_game[key]
                flat = [m for moves, _ in episodes for m in moves]
                log_metric(f"vlmgym_episode/{key}/moves", float(np.mean([len(m) for m, _ in episodes])))
                log_metric(f"vlmgym_episode/{key}/successes", float(np.mean([sum(x["success"] for x in m)
                                                                             for m, _ in episodes])))
                log_metric(f"vlmgym_episode/{key}/finished_rate", float(np.mean([f for _, f in episodes])))
                if flat:
                    log_metric(f"vlmgym_episode/{key}/success_rate", float(np.mean([x["success"] for x in flat])))
                    log_metric(f"vlmgym_episode/{key}/illegal_rate",
                               float(np.mean([x["status"] == "illegal" for x in flat])))
                    log_metric(f"vlmgym_episode/{key}/unparsable_rate",
                               float(np.mean([x["status"] == "unparsable" for x in flat])))
        return out


def use_tool_chat_template(processor: Any) -> Any:
    """Give a Qwen2.5-VL processor a chat template that renders tools (TRL's ``qwen3_vl.jinja``).

    A processor whose template already renders tool calls is returned unchanged; Qwen2.5-VL's
    template (recognised by TRL's copy, or by Qwen's special tokens) is replaced on the processor
    and its tokenizer; any other template raises ``ValueError`` with what to do.
    """
    from trl.chat_template_utils import qwen3_vl_chat_template, supports_tool_calling

    if supports_tool_calling(processor):
        return processor
    tokenizer = getattr(processor, "tokenizer", processor)
    vocab = tokenizer.get_vocab()
    needed = ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<tool_call>",
              "</tool_call>")
    missing = [t for t in needed if t not in vocab]
    if missing:
        raise ValueError(f"the processor's chat template cannot render tool calls and its tokenizer lacks the Qwen "
                         f"tokens {missing} that TRL's qwen3_vl template uses; set processor.chat_template to a "
                         "template that renders tools (TRL checks it with supports_tool_calling)")
    processor.chat_template = qwen3_vl_chat_template
    tokenizer.chat_template = qwen3_vl_chat_template
    if not supports_tool_calling(processor):  # pragma: no cover - TRL's own template
        raise ValueError("TRL's qwen3_vl template does not render tools with this processor")
    return processor
