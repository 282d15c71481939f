"""hf:PATH with a tiny random Qwen2.5-VL built offline (tests/tiny_vlm.py): real processor, real
generate, answers scored by the env."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from vlmgym.cli import main  # noqa: E402
from vlmgym.eval import EvalConfig, GenerationConfig, evaluate, make_policy  # noqa: E402
from vlmgym.eval.runner import read_jsonl  # noqa: E402


def load_processor(path):
    """Processor loader for ``--policy-arg processor=test_eval_hf:load_processor``."""
    from tiny_vlm import load_tiny_vlm

    return load_tiny_vlm(path)[1]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    from tiny_vlm import build_tiny_vlm

    path = tmp_path_factory.mktemp("tiny-qwen")
    build_tiny_vlm(save_dir=path)
    return path


def test_hf_policy_answers_a_batch_of_images_deterministically(tiny_path):
    policy = make_policy(f"hf:{tiny_path}", processor=load_processor(tiny_path), batch_size=2, device="cpu",
                         generation=GenerationConfig(max_tokens=6))
    import gymnasium as gym

    from vlmgym.eval import Query

    vec = gym.make_vec("VLMGym/2048-v0", num_envs=3)
    obs, info = vec.reset(seed=0)
    queries = [Query("VLMGym/2048-v0", i, 1, info["prompt"][i], obs[i]) for i in range(3)]
    first = policy(queries)
    assert len(first) == 3 and all(isinstance(r.text, str) for r in first)
    assert all(0 < r.usage["completion_tokens"] <= 6 and r.usage["prompt_tokens"] > 20 for r in first)
    assert [r.text for r in policy(queries)] == [r.text for r in first]  # greedy: reproducible
    assert policy.config()["generation"]["max_tokens"] == 6 and policy.config()["device"] == "cpu"


def test_hf_policy_through_the_cli(tiny_path, tmp_path):
    out = tmp_path / "ev"
    assert main(["eval", "VLMGym/2048-v0", "--policy", f"hf:{tiny_path}", "--policy-arg",
                 "processor=test_eval_hf:load_processor", "--policy-arg", "device=cpu", "--max-tokens", "5",
                 "--runs", "2", "--steps", "2", "--out", str(out), "--no-video", "--no-curves",
                 "--no-progress"]) == 0
    records = read_jsonl(out / "steps.jsonl")
    assert len(records) == 4 and all(isinstance(r["answer"], str) for r in records)
    assert {r["status"] for r in records} <= {"ok", "illegal", "unparsable"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["policy"]["name"] == f"hf:{tiny_path}" and summary["generation"]["max_tokens"] == 5
    assert summary["games"]["VLMGym/2048-v0"]["pooled"]["completion_tokens"] > 0


def test_hf_policy_in_text_mode(tiny_path, tmp_path):
    policy = make_policy(f"hf:{tiny_path}", processor=load_processor(tiny_path), device="cpu",
                         generation=GenerationConfig(max_tokens=4))
    res = evaluate(EvalConfig(["VLMGym/2048-v0"], runs=2, steps=1, env_kwargs={"obs_mode": "text"},
                              out=str(tmp_path / "t"), video=False, curves=False, progress=False), policy=policy)
    assert res.summary["complete"]
