"""The evaluation folder's records: JSON lines, snapshots as base64, plain JSON values.

Shared by the runner (which writes them) and the reports (which read them back).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlmgym.core.state import GameState

__all__ = ["decode_states", "encode_states", "jsonable", "read_jsonl", "step_metric"]


def jsonable(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> plain JSON values (non-finite floats -> ``None``)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def encode_states(states: Sequence[GameState]) -> list[str]:
    """Snapshots as base64 text (``GameState.to_bytes``), as ``checkpoints.jsonl`` stores them."""
    return [base64.b64encode(s.to_bytes()).decode("ascii") for s in states]


def decode_states(blobs: Sequence[str]) -> list[GameState]:
    """Inverse of :func:`encode_states` (every snapshot validated)."""
    return [GameState.from_bytes(base64.b64decode(b)) for b in blobs]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Complete JSON lines of a file; a torn last line (killed mid-write) is ignored."""
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return out


def step_metric(record: dict[str, Any], metric: str) -> float:
    """What one ``steps.jsonl`` record adds to a game's metric (``Game.metric``)."""
    return float(record["gain"] if metric == "score_gain" else record["success"])
