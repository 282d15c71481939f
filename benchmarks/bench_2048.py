"""2048 throughput: batched env vs a naive per-env Pillow loop; composition vs np.copyto; scoring.

Run: python benchmarks/bench_2048.py   (prints a Markdown table; ratios are measured side by side)
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
import vlmgym  # noqa: E402,F401
from common import scoring_rows, side_by_side, table  # noqa: E402
from vlmgym.core.render import font  # noqa: E402

BATCH = 64
STEPS = 20


class NaiveEnv2048:
    """What most game envs do: Python lists for the rules and a Pillow drawing per frame."""

    COLORS = [(205, 193, 180), (238, 228, 218), (237, 224, 200), (242, 177, 121), (245, 149, 99),
              (246, 124, 95), (246, 94, 59), (237, 207, 114), (237, 204, 97), (237, 200, 80)]

    def __init__(self, seed: int, cell: int = 56):
        self.rng = np.random.default_rng(seed)
        self.n, self.cell = 4, cell
        self.board = [[0] * 4 for _ in range(4)]
        self.score = 0
        self.spawn()
        self.spawn()

    def spawn(self) -> None:
        empty = [(r, c) for r in range(4) for c in range(4) if not self.board[r][c]]
        if empty:
            r, c = empty[self.rng.integers(len(empty))]
            self.board[r][c] = 2 if self.rng.random() < 0.9 else 4

    @staticmethod
    def slide(line):
        tiles = [v for v in line if v]
        out, score, i = [], 0, 0
        while i < len(tiles):
            if i + 1 < len(tiles) and tiles[i] == tiles[i + 1]:
                out.append(2 * tiles[i])
                score += 2 * tiles[i]
                i += 2
            else:
                out.append(tiles[i])
                i += 1
        return out + [0] * (len(line) - len(out)), score

    def step(self, d: int):
        b = self.board
        lines = {3: b, 1: [r[::-1] for r in b], 0: [list(c) for c in zip(*b)],
                 2: [list(c)[::-1] for c in zip(*b)]}[d]
        res = [self.slide(line) for line in lines]
        new = [r for r, _ in res]
        if d == 1:
            new = [r[::-1] for r in new]
        elif d == 0:
            new = [list(c) for c in zip(*new)]
        elif d == 2:
            new = [list(c) for c in zip(*[r[::-1] for r in new])]
        gain = sum(s for _, s in res)
        if new != self.board:
            self.board = new
            self.score += gain
            self.spawn()
        return self.render(), (1.0 if gain else -1.0)

    def render(self) -> np.ndarray:
        s = self.cell
        img = Image.new("RGB", (4 * s, 4 * s + 28), (187, 173, 160))
        d = ImageDraw.Draw(img)
        d.text((4, 14), f"Score: {self.score}", fill=(119, 110, 101), font=font(16), anchor="lm")
        for r in range(4):
            for c in range(4):
                v = self.board[r][c]
                e = v.bit_length() - 1 if v else 0
                box = (c * s + 4, 28 + r * s + 4, c * s + s - 5, 28 + r * s + s - 5)
                d.rounded_rectangle(box, radius=4, fill=self.COLORS[min(e, 9)])
                if v:
                    d.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), str(v), fill=(60, 60, 60),
                           font=font(24), anchor="mm")
        return np.asarray(img)


def main() -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(0)
    dirs = rng.integers(0, 4, size=(STEPS, BATCH))
    texts = [[f"<answer>{d}</answer>" for d in row] for row in dirs]

    vec_text = gym.make_vec("VLMGym/2048-v0", num_envs=BATCH)
    vec_index = gym.make_vec("VLMGym/2048-v0", num_envs=BATCH, action_mode="index")
    naive = [NaiveEnv2048(i) for i in range(BATCH)]
    vec_text.reset(seed=0)
    vec_index.reset(seed=0)

    def run_text():
        for row in texts:
            vec_text.step(row)

    def run_index():
        for row in dirs:
            vec_index.step(row)

    def run_naive():
        for row in dirs:
            for env, d in zip(naive, row):
                env.step(int(d))

    t = side_by_side({"text": run_text, "index": run_index, "naive": run_naive}, repeat=3)
    sps = {k: STEPS * BATCH / v for k, v in t.items()}

    # composition vs np.copyto on buffers of the same size
    r = vec_text.engine.renderer
    ids = vec_text.engine.batch["board"].copy()
    out = np.empty((BATCH, r.height, r.width, 3), np.uint8)
    src, dst = np.ones_like(out), np.empty_like(out)
    c = side_by_side({"compose": lambda: r.compose(ids, out=out), "copyto": lambda: np.copyto(dst, src)},
                     repeat=15, number=5)

    # counterfactual scoring of 128 states x 5 answers vs one step of 640 envs
    sampler = gym.make_vec("VLMGym/2048-v0", num_envs=128)
    sampler.reset(seed=1)
    sampler.random_steps(100)
    states = [s for s in sampler.get_states() for _ in range(5)]
    answers = [f"<answer>{d}</answer>" for d in rng.integers(0, 4, 640)]
    scoring = scoring_rows("VLMGym/2048-v0", sampler, states, answers, obs_modes=("image", "text"))
    mb = out.nbytes / 1e6
    rows = [
        (f"env steps/s, batch {BATCH}, image obs, text answers", f"{sps['text']:,.0f}", ""),
        (f"env steps/s, batch {BATCH}, image obs, index actions", f"{sps['index']:,.0f}", ""),
        ("naive per-env loop with Pillow drawing, steps/s", f"{sps['naive']:,.0f}", ""),
        ("**speed-up, text answers / naive**", f"**{sps['text'] / sps['naive']:.1f}x**", ">= 20x"),
        ("speed-up, index actions / naive", f"{sps['index'] / sps['naive']:.1f}x", ">= 20x"),
        (f"compose {BATCH} frames ({mb:.1f} MB)", f"{c['compose'] * 1e3:.2f} ms "
         f"({out.nbytes / c['compose'] / 1e9:.1f} GB/s)", ""),
        ("np.copyto of the same bytes", f"{c['copyto'] * 1e3:.2f} ms ({out.nbytes / c['copyto'] / 1e9:.1f} GB/s)", ""),
        ("**composition bytes/s / np.copyto bytes/s**", f"**{c['copyto'] / c['compose']:.2f}**", ">= 0.5"),
        *scoring,
    ]
    print(table("2048 (benchmarks/bench_2048.py)", rows))
    return rows


if __name__ == "__main__":
    main()
