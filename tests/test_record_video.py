"""Videos of an env: Gymnasium's RecordVideo needs moviepy (which no extra brings, as docs/api.md
says), and examples/record_video.py records any env to mp4 without it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import vlmgym

ROOT = Path(__file__).resolve().parents[1]


def test_record_video_wrapper_needs_moviepy_as_documented(monkeypatch, tmp_path):
    from gymnasium.error import DependencyNotInstalled
    from gymnasium.wrappers import RecordVideo

    assert "moviepy" in (ROOT / "docs" / "api.md").read_text()
    monkeypatch.setitem(sys.modules, "moviepy", None)  # as without moviepy installed
    env = gym.make("VLMGym/2048-v0", render_mode="rgb_array")
    with pytest.raises(DependencyNotInstalled, match="(?i)moviepy is not installed"):
        RecordVideo(env, str(tmp_path / "videos"))
    env.close()


@pytest.mark.parametrize("env_id", sorted(i for i in vlmgym.ENV_IDS if "Cifar" not in i)[:3])
def test_example_records_an_mp4_without_moviepy(env_id, tmp_path, monkeypatch):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    monkeypatch.setitem(sys.modules, "moviepy", None)
    spec = importlib.util.spec_from_file_location("record_video", ROOT / "examples" / "record_video.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "episode.mp4"
    written = module.record(env_id, str(out), steps=5, seed=1)
    assert 2 <= written <= 6
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=1)
    h, w = env.render().shape[:2]
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == (w, h)
    assert sum(1 for _ in reader) == written
