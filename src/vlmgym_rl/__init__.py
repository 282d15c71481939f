"""vlmgym_rl: train vision-language models on vlmgym games with TRL (``pip install vlmgym[rl]``).

G0 (GRPO from the base model) through TRL's public extension points only: dataset columns
(:mod:`vlmgym_rl.states`), reward functions (:mod:`vlmgym_rl.rewards`) and a trainer callback
(:mod:`vlmgym_rl.callback`); :mod:`vlmgym_rl.recipes` maps the paper's recipe onto ``GRPOConfig``.
G1 (cold start, then G0): verified cold-start data (:mod:`vlmgym_rl.coldstart`), the supervised
stage and the pipeline (:mod:`vlmgym_rl.sft`). Beyond the paper: multi-turn episodes for TRL's
``environment_factory`` (:mod:`vlmgym_rl.multiturn`) and the paper's analysis of a run
(:mod:`vlmgym_rl.report`).
It imports only vlmgym's public API. Names are imported lazily (torch, transformers and TRL load
only when a name that needs them is used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vlmgym import __version__ as __version__  # one distribution, one version

__all__ = [
    "ColdStartConfig",
    "EpisodeMetrics",
    "FormatReward",
    "G0Config",
    "GameReward",
    "GameSpec",
    "OnPolicyPool",
    "OpenAITeacher",
    "OracleTeacher",
    "PerceptionReward",
    "StateSampler",
    "VLMGymCallback",
    "build_coldstart_dataset",
    "build_g0_trainer",
    "build_sft_trainer",
    "build_state_dataset",
    "episode_dataset",
    "episode_factories",
    "episode_factory",
    "evaluate_policy",
    "g0_rewards",
    "load_coldstart_dataset",
    "load_processor",
    "stream_state_dataset",
    "train_g0",
    "train_g1",
    "train_sft",
    "use_tool_chat_template",
    "validate_state_dataset",
    "write_report",
]

_WHERE = {
    "GameSpec": "states", "OnPolicyPool": "states", "StateSampler": "states",
    "build_state_dataset": "states", "stream_state_dataset": "states",
    "GameReward": "rewards", "FormatReward": "rewards", "PerceptionReward": "rewards", "g0_rewards": "rewards",
    "VLMGymCallback": "callback", "evaluate_policy": "callback",
    "G0Config": "recipes", "build_g0_trainer": "recipes", "train_g0": "recipes", "load_processor": "recipes",
    "validate_state_dataset": "recipes",
    "build_coldstart_dataset": "coldstart", "load_coldstart_dataset": "coldstart", "OracleTeacher": "coldstart",
    "OpenAITeacher": "coldstart",
    "ColdStartConfig": "sft", "build_sft_trainer": "sft", "train_sft": "sft", "train_g1": "sft",
    "episode_dataset": "multiturn", "episode_factory": "multiturn", "episode_factories": "multiturn",
    "use_tool_chat_template": "multiturn", "EpisodeMetrics": "multiturn",
    "write_report": "report",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # one distribution, one version (src/vlmgym/version.py)
        from vlmgym import __version__

        return __version__
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vlmgym_rl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"vlmgym_rl.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
