"""Evaluation harness: policies, the batched evaluation loop, reports.

    from vlmgym.eval import EvalConfig, evaluate
    result = evaluate(EvalConfig(["VLMGym/2048-v0"], policy="random", protocol="paper"))
    print(result.summary["games"]["VLMGym/2048-v0"]["stats"]["metric"])

The command line is ``vlmgym eval``; see ``docs/evaluation.md``.
"""

from vlmgym.eval.policies import (
    BUILTIN_POLICIES,
    FunctionPolicy,
    GenerationConfig,
    PaperRandomPolicy,
    Policy,
    PolicyError,
    Query,
    RandomPolicy,
    Reply,
    make_policy,
    wrap_answer,
)
from vlmgym.eval.redaction import add_secret, redact, redact_text
from vlmgym.eval.runner import (
    PROTOCOLS,
    STEP_FIELDS,
    EvalConfig,
    EvalResult,
    EvaluationAborted,
    OutputBusy,
    evaluate,
    primary_metric,
)

__all__ = [
    "BUILTIN_POLICIES",
    "PROTOCOLS",
    "STEP_FIELDS",
    "EvalConfig",
    "EvalResult",
    "EvaluationAborted",
    "FunctionPolicy",
    "GenerationConfig",
    "PaperRandomPolicy",
    "Policy",
    "PolicyError",
    "Query",
    "RandomPolicy",
    "OutputBusy",
    "Reply",
    "add_secret",
    "evaluate",
    "make_policy",
    "primary_metric",
    "redact",
    "redact_text",
    "wrap_answer",
]
