"""Shared test setup: headless pygame, Hypothesis profiles, per-id extra kwargs."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "default", deadline=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", deadline=None, max_examples=1000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def cifar10_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ``cifar-10-binary.tar.gz`` in the official binary format (10 classes x 6 pictures)."""
    from fake_cifar import write_archive

    path, _ = write_archive(tmp_path_factory.mktemp("cifar10"), per_class=6)
    return path


@pytest.fixture(scope="session")
def env_kwargs_for(cifar10_archive: Path) -> dict[str, dict]:
    """Extra kwargs some ids need in tests (e.g. a small image archive); id -> kwargs."""
    return {"VLMGym/ShisenshoCifar10-v0": {"cifar10_path": str(cifar10_archive)}}


@pytest.fixture
def server():
    """A scripted OpenAI-compatible chat server on 127.0.0.1 (``test_eval_openai.FakeChatServer``);
    requests it found malformed fail the test."""
    from test_eval_openai import FakeChatServer

    s = FakeChatServer()
    yield s
    s.close()
    assert not s.errors, s.errors
