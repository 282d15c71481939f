"""Lights Out as a vlmgym game: one file, one registration call (docs/api.md, "Add a game").

Pressing a light toggles it and its four neighbours; the goal is to switch every light off. Run
``python -c "import lights_out; from vlmgym.testing import check_game; check_game('Example/LightsOut-v0')"``
from this folder, or ``vlmgym eval Example/LightsOut-v0 --import lights_out --policy oracle``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

import vlmgym
from vlmgym.core import params, rng
from vlmgym.core.game import Batch, FieldSpec, Outcome, observation_sentence

_NEIGHBOURS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


@vlmgym.register_game("lightsout")
class LightsOut(vlmgym.Game):
    """Lights Out on a ``rows`` x ``cols`` board; a press succeeds when fewer lights are left on."""

    # Answers name one cell, "(r, c)"; the multi-turn tool is press(row, col).
    codec = vlmgym.CellCodec(tool_names=("press",), noun="light",
                             tool_summaries=("Press a light: it and its four neighbours switch.",))
    sampler_steps = 3  # random presses before a training state is taken

    def __init__(self, rows: int = 5, cols: int = 5, scramble: int = 6):
        # typed and bounded (ValueError naming the option and its range): vlmgym.core.params
        rows, cols = params.integer("rows", rows, 1, 12), params.integer("cols", cols, 1, 12)
        scramble = params.integer("scramble", scramble, 1, 12)
        if rows * cols < 2:
            raise ValueError("the board needs at least two lights")
        self.rows, self.cols, self.scramble = rows, cols, scramble
        self.rules = {"shape": (rows, cols), "scramble": scramble}  # plain data: snapshots store it
        self.num_actions = rows * cols

    @classmethod
    def state_fields(cls, rules: Mapping[str, Any]) -> dict[str, FieldSpec]:
        rows, cols = rules["shape"]
        return {"lights": ((int(rows), int(cols)), np.dtype(bool))}

    def _press(self, lights: np.ndarray, envs: np.ndarray, r: np.ndarray, c: np.ndarray) -> None:
        for dr, dc in _NEIGHBOURS:  # ``envs`` are distinct: each toggle touches a cell once
            rr, cc = r + dr, c + dc
            inside = (rr >= 0) & (rr < self.rows) & (cc >= 0) & (cc < self.cols)
            lights[envs[inside], rr[inside], cc[inside]] ^= True

    def deal(self, batch: Batch) -> None:
        lights = batch["lights"]
        n = len(lights)
        lights[:] = False
        # random presses from the solved board: every deal can be solved by construction
        cells = rng.uniform_below(rng.draw_uniform(batch["rng"], self.scramble), self.num_actions)
        for k in range(self.scramble):
            self._press(lights, np.arange(n), cells[:, k] // self.cols, cells[:, k] % self.cols)
        solved = np.flatnonzero(~lights.reshape(n, -1).any(axis=1))  # never deal a finished game
        self._press(lights, solved, np.zeros(len(solved), dtype=np.int64), np.zeros(len(solved), dtype=np.int64))

    def apply(self, batch: Batch, actions: np.ndarray, active: np.ndarray) -> Outcome:
        lights = batch["lights"]
        r, c = actions[:, 0], actions[:, 1]
        legal = active & (r >= 0) & (r < self.rows) & (c >= 0) & (c < self.cols)
        before = lights.reshape(len(lights), -1).sum(axis=1)
        envs = np.flatnonzero(legal)
        self._press(lights, envs, r[envs], c[envs])
        after = lights.reshape(len(lights), -1).sum(axis=1)
        success = legal & (after < before)
        return Outcome(legal=legal, success=success, gain=success.astype(np.int64), info={"lights_on": after})

    def legal_mask(self, batch: Batch) -> np.ndarray:
        return np.ones((len(batch["lights"]), self.num_actions), dtype=bool)  # every light can be pressed

    def is_over(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        over = ~batch["lights"].reshape(len(batch["lights"]), -1).any(axis=1)
        return over, np.where(over, "solved", None).astype(object)

    def decode(self, index: np.ndarray) -> np.ndarray:
        i = np.asarray(index, dtype=np.int64).reshape(-1)
        return np.stack([i // self.cols, i % self.cols], axis=1)

    def encode(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions, dtype=np.int64)
        inside = (a[:, 0] >= 0) & (a[:, 0] < self.rows) & (a[:, 1] >= 0) & (a[:, 1] < self.cols)
        return np.where(inside, a[:, 0] * self.cols + a[:, 1], -1)

    def board_text(self, batch: Batch, i: int) -> str:
        return "\n".join(" ".join("#" if on else "." for on in row) for row in batch["lights"][i].tolist())

    def prompt(self, obs_mode: str) -> str:
        seen = observation_sentence(obs_mode, "'#' for a light that is on, '.' for one that is off")
        return (f"You are playing Lights Out on a board of {self.rows} rows and {self.cols} columns. {seen}\n"
                "Pressing a light switches it and its neighbours above, below, left and right. A press "
                "succeeds when fewer lights are on afterwards; the game ends when every light is off.\n"
                "Answer with the light to press as (row, column), counted from 0 at the top-left, for "
                "example <answer>(2, 3)</answer>.")

    def sprites(self, cell_px: int) -> np.ndarray:
        atlas = np.empty((2, cell_px, cell_px, 3), dtype=np.uint8)
        for k, color in enumerate([(60, 60, 70), (250, 220, 90)]):  # off, on
            img = Image.new("RGB", (cell_px, cell_px), (30, 30, 30))
            gap = max(2, cell_px // 14)
            ImageDraw.Draw(img).rounded_rectangle((gap, gap, cell_px - 1 - gap, cell_px - 1 - gap),
                                                  radius=cell_px // 8, fill=color)
            atlas[k] = np.asarray(img)
        return atlas

    def sprite_ids(self, batch: Batch) -> np.ndarray:
        return batch["lights"].astype(np.uint8)


vlmgym.register_env("Example/LightsOut-v0", game="lightsout", rows=5, cols=5)
