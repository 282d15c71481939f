"""Gymnasium environments over the batched engine."""

from vlmgym.envs.sampling import SampledStates, sample_states
from vlmgym.envs.single import VLMGymEnv
from vlmgym.envs.vector import VLMGymVectorEnv

__all__ = ["SampledStates", "VLMGymEnv", "VLMGymVectorEnv", "sample_states"]
