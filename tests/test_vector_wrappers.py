"""Every vector wrapper of Gymnasium 1.4 (``gymnasium.wrappers.vector``) on every game, in every
observation and action mode: each either works (checked against the same env unwrapped, stepped
with the same seed and actions) or fails at once with the error docs/api.md lists for that mode.

The envs run in NEXT_STEP mode (Gymnasium's default, which its observation wrappers require) with
``max_episode_steps=2``, so every run crosses autoresets. ``test_every_wrapper_is_covered`` fails
when a Gymnasium release adds a wrapper that this table does not decide.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import gymnasium.wrappers.vector as W
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import TransformAction as SingleTransformAction
from gymnasium.wrappers import TransformObservation as SingleTransformObservation
from gymnasium.wrappers import TransformReward as SingleTransformReward

from vector_cases import one_id_per_game, small_kwargs

ROOT = Path(__file__).resolve().parents[1]

IDS = one_id_per_game()
OBS_MODES = ("image", "text", "image+text")
ACTION_MODES = ("text", "index")
STEPS = 5
_NEXT_OR_DISABLED = (ValueError, "Expected autoreset_mode to be NEXT_STEP or DISABLED")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclass
class Case:
    """How one wrapper applies: ``build(env)``, where it works, and what it raises elsewhere."""

    build: Callable[[Any], Any]
    works: Callable[[str, str], bool] = lambda obs, act: True
    error: tuple[type[BaseException] | tuple[type[BaseException], ...], str] | None = None  # where it does not work (None: not run there)
    check: Callable[[Any, Any, Any], None] | None = None  # (wrapped result, twin result, wrapper)
    same_step: tuple[type[BaseException], str] | None = None  # SAME_STEP refused with this
    needs: tuple[str, ...] = ()
    when: str = "construction"  # the error comes at "construction" or at the first "reset"


def _image(obs_mode: str, _act: str) -> bool:
    return obs_mode == "image"


def _box_obs_error(name: str) -> tuple[type[BaseException], str]:
    return TypeError, f"{name} requires a Box"


def _same_obs(out, twin, wrapper) -> None:
    a, b = out[0], twin[0]
    if isinstance(a, dict):
        assert all(np.array_equal(a[k], b[k]) if not isinstance(a[k], tuple) else a[k] == b[k] for k in a)
    elif isinstance(a, tuple):
        assert a == b
    else:
        assert np.array_equal(a, b)


def _in_space(out, twin, wrapper) -> None:
    assert wrapper.observation_space.contains(out[0]), (wrapper.observation_space, getattr(out[0], "shape", None))


def _flattened(out, twin, wrapper) -> None:
    single = wrapper.env.single_observation_space
    flat = out[0]
    assert flat.shape == (wrapper.num_envs, spaces.flatdim(single))
    for i in range(wrapper.num_envs):
        back = spaces.unflatten(single, flat[i])
        raw = twin[0]
        if isinstance(raw, dict):
            assert np.array_equal(back["image"], raw["image"][i]) and back["text"] == raw["text"][i]
        elif isinstance(raw, tuple):
            assert back == raw[i]
        else:
            assert np.array_equal(back, raw[i])


def _image_only(out, twin, wrapper) -> None:
    assert set(out[0]) == {"image"} and np.array_equal(out[0]["image"], twin[0]["image"])


def _rewards(fn) -> Callable[[Any, Any, Any], None]:
    def check(out, twin, wrapper) -> None:
        assert np.allclose(out[1], fn(np.asarray(twin[1], dtype=np.float64))), (out[1], twin[1])
        _same_obs(out, twin, wrapper)
    return check


def _finite_rewards(out, twin, wrapper) -> None:
    assert np.isfinite(out[1]).all() and np.array_equal(np.sign(out[1]), np.sign(twin[1]))


def _episode_stats(out, twin, wrapper) -> None:
    info = out[4]
    if "episode" in info:
        done = info["_episode"]
        assert np.array_equal(done, out[2] | out[3]) and (info["episode"]["l"][done] >= 1).all()


def _listed_infos(out, twin, wrapper) -> None:
    infos = out[4]
    assert isinstance(infos, list) and len(infos) == wrapper.num_envs
    for i, info in enumerate(infos):
        assert info["board_text"] == twin[4]["board_text"][i] and info["autoreset"] == twin[4]["autoreset"][i]


def _half_image(env):
    h, w, c = env.single_observation_space.shape
    space = spaces.Box(0, 255, (h // 2, w // 2, c), dtype=np.uint8)
    return W.VectorizeTransformObservation(env, SingleTransformObservation, func=lambda o: o[::2, ::2],
                                           observation_space=space)


def _halved(out, twin, wrapper) -> None:
    assert np.array_equal(out[0], twin[0][:, ::2, ::2])


class _Indices:
    """Index actions for a text env: TransformAction turns each index into its answer."""

    @staticmethod
    def build(env):
        game = env.unwrapped.game
        space = spaces.MultiDiscrete([game.num_actions] * env.num_envs)
        return W.TransformAction(env, lambda a: [f"<answer>{t}</answer>" for t in game.index_answers(np.asarray(a))],
                                 action_space=space, single_action_space=spaces.Discrete(game.num_actions))


def _inverted_reward(env):
    return W.VectorizeTransformReward(env, SingleTransformReward, func=lambda r: -r)


def _vector_render_needs() -> tuple[str, ...]:
    return ("pygame", "cv2")


CASES: dict[str, Case] = {
    # -- observation wrappers ---------------------------------------------------------------------
    "TransformObservation": Case(lambda e: W.TransformObservation(e, lambda o: o), check=_same_obs,
                                 same_step=_NEXT_OR_DISABLED),
    "VectorizeTransformObservation": Case(
        lambda e: W.VectorizeTransformObservation(e, SingleTransformObservation, func=lambda o: o,
                                                  observation_space=e.single_observation_space),
        # an unchanged space makes Gymnasium concatenate into the env's own (read-only) image batch
        works=lambda o, a: o == "text", error=(ValueError, "read-only"), when="reset", check=_same_obs,
        same_step=_NEXT_OR_DISABLED),
    # the way to transform images one by one: a new space (the case above covers the other modes)
    "VectorizeTransformObservation(new space)": Case(_half_image, works=_image, check=_halved,
                                                     same_step=_NEXT_OR_DISABLED),
    "FilterObservation": Case(lambda e: W.FilterObservation(e, ["image"]), works=lambda o, a: o == "image+text",
                              error=(ValueError, "only usable with `Dict` and `Tuple`"), check=_image_only,
                              same_step=_NEXT_OR_DISABLED),
    "FlattenObservation": Case(W.FlattenObservation, check=_flattened, same_step=_NEXT_OR_DISABLED),
    "GrayscaleObservation": Case(W.GrayscaleObservation, works=_image, error=_box_obs_error("GrayscaleObservation"),
                                 check=_in_space, same_step=_NEXT_OR_DISABLED),
    "ResizeObservation": Case(lambda e: W.ResizeObservation(e, (28, 28)), works=_image,
                              error=_box_obs_error("ResizeObservation"), check=_in_space, same_step=_NEXT_OR_DISABLED,
                              needs=("cv2",)),
    "ReshapeObservation": Case(lambda e: W.ReshapeObservation(e, (int(np.prod(e.single_observation_space.shape or 1)),)),
                               works=_image, error=_box_obs_error("ReshapeObservation"), check=_in_space,
                               same_step=_NEXT_OR_DISABLED),
    "RescaleObservation": Case(lambda e: W.RescaleObservation(e, 0.0, 1.0), works=_image,
                               error=_box_obs_error("RescaleObservation"), check=_in_space,
                               same_step=_NEXT_OR_DISABLED),
    "DtypeObservation": Case(lambda e: W.DtypeObservation(e, np.float32), works=_image,
                             error=(TypeError, "DtypeObservation requires a Box"), check=_in_space,
                             same_step=_NEXT_OR_DISABLED),
    # accepts a Text/Dict space, then NumPy fails at the first reset (text: TypeError, dict: AxisError)
    "NormalizeObservation": Case(W.NormalizeObservation, works=_image, error=((TypeError, ValueError), "dtypes|axis"),
                                 when="reset", check=_in_space, same_step=_NEXT_OR_DISABLED),
    # -- action wrappers --------------------------------------------------------------------------
    "TransformAction": Case(lambda e: W.TransformAction(e, lambda a: a), check=_same_obs),
    # the way to drive a text env with an index policy (index envs take indices already)
    "TransformAction(index answers)": Case(_Indices.build, works=lambda o, a: a == "text", check=_same_obs),
    "VectorizeTransformAction": Case(
        lambda e: W.VectorizeTransformAction(e, SingleTransformAction, func=lambda a: a,
                                             action_space=e.single_action_space), check=_same_obs),
    "ClipAction": Case(W.ClipAction, works=lambda o, a: False, error=(TypeError, "ClipAction requires a Box")),
    "RescaleAction": Case(lambda e: W.RescaleAction(e, 0.0, 1.0), works=lambda o, a: False,
                          error=(TypeError, "RescaleAction requires a Box")),
    # -- reward wrappers: every mode, SAME_STEP included --------------------------------------------
    "TransformReward": Case(lambda e: W.TransformReward(e, lambda r: 2 * r + 1), check=_rewards(lambda r: 2 * r + 1)),
    "VectorizeTransformReward": Case(_inverted_reward, check=_rewards(lambda r: -r)),
    "ClipReward": Case(lambda e: W.ClipReward(e, 0.0, 0.5), check=_rewards(lambda r: np.clip(r, 0.0, 0.5))),
    "NormalizeReward": Case(W.NormalizeReward, check=_finite_rewards),
    # -- common ---------------------------------------------------------------------------------------
    "RecordEpisodeStatistics": Case(W.RecordEpisodeStatistics, check=_episode_stats),
    "DictInfoToList": Case(W.DictInfoToList, check=_listed_infos),
    # -- rendering (render_mode="rgb_array"; RecordVideo has its own test below) -------------------------
    "HumanRendering": Case(W.HumanRendering, check=_same_obs, needs=_vector_render_needs()),
    # -- array conversion: infos hold text (prompt, board_text), which DLPack cannot carry ----------------
    "NumpyToTorch": Case(lambda e: W.NumpyToTorch(e), works=lambda o, a: False,
                         error=(BufferError, "DLPack"), when="reset", needs=("torch", "array_api_compat")),
}
#: Gymnasium's wrappers decided elsewhere: RecordVideo (its own test), the generic ArrayConversion
#: (NumpyToTorch is its NumPy case) and the JAX ones (they convert a JAX env's arrays; vlmgym's are NumPy).
ELSEWHERE = {"RecordVideo", "ArrayConversion", "JaxToNumpy", "JaxToTorch"}


def test_every_wrapper_is_covered():
    names = {name.split("(")[0] for name in CASES}
    assert set(W.__all__) == names | ELSEWHERE, set(W.__all__) ^ (names | ELSEWHERE)


def _make(env_id, extra, obs_mode, action_mode, mode=AutoresetMode.NEXT_STEP):
    return gym.make_vec(env_id, num_envs=2, autoreset_mode=mode, obs_mode=obs_mode, action_mode=action_mode,
                        max_episode_steps=2, cell_px=28, render_mode="rgb_array", **small_kwargs(env_id, extra))


def _actions(twin, rng, action_mode):
    masks = twin.legal_masks()
    index = np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in masks], dtype=np.int64)
    if action_mode == "index":
        return index, index
    answers = [f"<answer>{t}</answer>" for t in twin.game.index_answers(index)]
    return answers, index


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("env_id", IDS)
def test_vector_wrapper(env_id, name, env_kwargs_for):
    case = CASES[name]
    for module in case.needs:
        pytest.importorskip(module)
    for obs_mode in OBS_MODES:
        for action_mode in ACTION_MODES:
            where = f"{name} on {env_id}, obs_mode={obs_mode}, action_mode={action_mode}"
            env, twin = (_make(env_id, env_kwargs_for, obs_mode, action_mode) for _ in range(2))
            works = case.works(obs_mode, action_mode)
            if not works and case.error is None:
                continue
            if not works and case.when == "construction":
                assert case.error is not None
                with pytest.raises(case.error[0], match=case.error[1]):
                    case.build(env)
                continue
            wrapped = case.build(env)
            if not works:
                assert case.error is not None
                with pytest.raises(case.error[0], match=case.error[1]):
                    wrapped.reset(seed=3)
                continue
            rng = np.random.default_rng(0)
            out, twin_out = wrapped.reset(seed=3), twin.reset(seed=3)
            for _ in range(STEPS):
                acts, index = _actions(twin, rng, action_mode)
                wrapped_acts = index if name == "TransformAction(index answers)" else acts
                out, twin_out = wrapped.step(wrapped_acts), twin.step(acts)
                if case.check is not None:
                    try:
                        case.check(out, twin_out, wrapped)
                    except AssertionError as exc:
                        raise AssertionError(f"{where}: {exc}") from None
            assert twin.unwrapped.get_states() == env.unwrapped.get_states(), where
            wrapped.close()
            twin.close()
    if case.same_step is not None:
        with pytest.raises(case.same_step[0], match=case.same_step[1]):
            case.build(_make(env_id, env_kwargs_for, "image", "text", AutoresetMode.SAME_STEP))


# -- RecordVideo -------------------------------------------------------------------------------------
class _Clip:
    """moviepy's ``ImageSequenceClip`` as RecordVideo uses it, encoding with imageio-ffmpeg (the eval
    extra's encoder): moviepy itself needs Pillow < 12, which vlmgym does not impose (docs/api.md)."""

    written: list[tuple[str, list[np.ndarray]]] = []

    def __init__(self, frames, fps):
        self.frames, self.fps = [np.array(f) for f in frames], fps

    def write_videofile(self, path, logger=None):
        import imageio_ffmpeg

        h, w = self.frames[0].shape[:2]
        writer = imageio_ffmpeg.write_frames(path, (w, h), fps=self.fps, macro_block_size=1)
        writer.send(None)
        for frame in self.frames:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        _Clip.written.append((path, self.frames))


def _fake_moviepy(monkeypatch) -> None:
    module = types.ModuleType("moviepy.video.io.ImageSequenceClip")
    module.ImageSequenceClip = _Clip  # type: ignore[attr-defined]
    for name in ("moviepy", "moviepy.video", "moviepy.video.io"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "moviepy.video.io.ImageSequenceClip", module)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP], ids=lambda m: m.value)
@pytest.mark.parametrize("env_id", IDS)
def test_record_video_records_every_episode_of_the_first_env(env_id, mode, env_kwargs_for, monkeypatch, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    _fake_moviepy(monkeypatch)
    _Clip.written = []
    env = _make(env_id, env_kwargs_for, "image", "index", mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SAME_STEP: Gymnasium warns that the last frame is not recorded
        rec = W.RecordVideo(env, str(tmp_path), episode_trigger=lambda e: True)
    frames = []
    obs, _ = rec.reset(seed=1)
    frames.append(np.concatenate(obs, axis=1))  # 2 envs side by side: RecordVideo's 1:1 grid is 1 x 2
    for _ in range(6):  # episodes of 2 steps: they end at steps 2, 4, 6 (NEXT_STEP: 2, 5, restarting at 3, 6)
        obs, *_ = rec.step(np.zeros(2, dtype=np.int64))
        frames.append(np.concatenate(obs, axis=1))
    rec.close()
    # NEXT_STEP: the first frame and 2 steps, then the restart frame and 2 steps; SAME_STEP loses each last frame
    expected = [frames[0:3], frames[3:6]] if mode == AutoresetMode.NEXT_STEP else [frames[0:2], frames[2:4], frames[4:6]]
    got = [f for _, f in _Clip.written][:len(expected)]
    assert [len(f) for f in got] == [len(f) for f in expected]
    for video, want in zip(got, expected):
        assert all(np.array_equal(a, b) for a, b in zip(video, want))
    path = _Clip.written[0][0]
    reader = imageio_ffmpeg.read_frames(path)
    assert tuple(next(reader)["size"]) == (frames[0].shape[1], frames[0].shape[0])
    assert sum(1 for _ in reader) == len(expected[0])


def test_the_example_rollout_loop_runs_and_reports_episodes():
    spec = importlib.util.spec_from_file_location("vector_wrappers", ROOT / "examples" / "vector_wrappers.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    episodes = module.rollout("VLMGym/Shisensho-v0", n=2, steps=60)
    assert episodes and all(1 <= length <= 50 for _, length in episodes)
    assert all(ret == length for ret, length in episodes)  # a legal Shisen-Sho move scores 1: every move counted
