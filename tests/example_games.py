"""The documented example game (``examples/lights_out.py``), imported once per test session."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lights_out.py"


def lights_out():
    """The ``lights_out`` module (it registers the ``lightsout`` game and ``Example/LightsOut-v0``)."""
    if "lights_out" not in sys.modules:
        spec = importlib.util.spec_from_file_location("lights_out", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules["lights_out"] = module
        spec.loader.exec_module(module)
    return sys.modules["lights_out"]


def small_2048() -> str:
    """``Mine/Small2048-v0``: a user's own id for the built-in 2048 (size 3), vlmgym's entry points."""
    import vlmgym

    if not vlmgym.is_vlmgym_id("Mine/Small2048-v0"):
        vlmgym.register_env("Mine/Small2048-v0", game="2048", size=3)
    return "Mine/Small2048-v0"
