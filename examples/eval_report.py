"""The HTML report and the leaderboard: evaluate three policies, open the pages.

``vlmgym eval`` writes ``report.html`` next to its other outputs; ``vlmgym compare`` puts several
evaluation folders side by side. To make the step browser worth a look without a GPU, this file
also defines :class:`MisreadingOracle`, a stand-in for a VLM: it plays the built-in oracle's
move and writes the paper's ``<perception><think><answer>`` format, reading the board from the
text observation but misreading each cell with a small probability (the report marks those
cells). Run it::

    python examples/eval_report.py          # writes runs/example-report/...
    # or from the command line:
    vlmgym eval VLMGym/Shisensho-v0 VLMGym/2048-v0 obs_mode=image+text --runs 4 --steps 30 \\
        --policy examples/eval_report.py:MisreadingOracle --policy-arg misread=0.05 --out runs/misreading
    vlmgym eval VLMGym/Shisensho-v0 VLMGym/2048-v0 --policy random-paper --runs 4 --steps 30 --out runs/rnd
    vlmgym compare runs/misreading runs/rnd --out runs/leaderboard

then open ``runs/misreading/report.html`` and ``runs/leaderboard/leaderboard.html`` in a browser.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlmgym.core.answer import extract_block
from vlmgym.eval import EvalConfig, Policy, Query, Reply, evaluate
from vlmgym.eval.compare import build_leaderboard, write_leaderboard
from vlmgym.eval.oracle import OraclePolicy


class MisreadingOracle(Policy):
    """The oracle's move in the paper's answer format, with a perception that misreads some cells.

    Needs ``obs_mode=image+text`` (it reads ``q.text``; a real model would look at ``q.image``).
    Each cell is misread with probability ``misread`` as another value seen on the same board.
    """

    name = "misreading-oracle"

    def __init__(self, misread: float = 0.05):
        if not 0 <= misread <= 1:
            raise ValueError(f"misread must be in [0, 1], got {misread!r}")
        self.misread = float(misread)
        self.oracle = OraclePolicy()

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "misread": self.misread}

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        moves = self.oracle(queries)
        out: list[str | Reply] = []
        for q, move in zip(queries, moves):
            if q.text is None:
                raise ValueError("MisreadingOracle reads the board text: evaluate with obs_mode=image+text")
            rng = np.random.default_rng(q.seed)
            rows = [line.split("|") for line in q.text.splitlines()]
            values = sorted({c.strip() for row in rows for c in row})
            wrong = 0
            for row in rows:
                for j, cell in enumerate(row):
                    if len(values) > 1 and rng.random() < self.misread:
                        other = [v for v in values if v != cell.strip()]
                        row[j] = cell.replace(cell.strip(), str(rng.choice(other)))
                        wrong += 1
            perceived = "\n".join("|".join(row) for row in rows)
            answer = extract_block(str(move), "answer")
            think = (f"I read {sum(len(r) for r in rows)} cells"
                     f"{' (some may be misread)' if wrong else ''}. The best move I see is {answer}.")
            out.append(f"<perception>\n{perceived}\n</perception>\n<think>\n{think}\n</think>\n{move}")
        return out


def main(root: str = "runs/example-report") -> None:
    shutil.rmtree(root, ignore_errors=True)
    games = ["VLMGym/Shisensho-v0", "VLMGym/2048-v0", "VLMGym/Swap-v0"]
    folders = []
    # the same env kwargs everywhere (the misreading oracle reads the text observation), so the
    # leaderboard has nothing to warn about
    for name, policy in (("misreading", MisreadingOracle(0.05)), ("random-legal", None), ("random-paper", None)):
        config = EvalConfig(games, policy=name, runs=4, steps=30, env_kwargs={"obs_mode": "image+text"},
                            out=f"{root}/{name}", progress=False)
        result = evaluate(config, policy=policy)
        folders.append(result.out)
        print(f"{name}: {result.out / 'report.html'}")
    board = build_leaderboard(folders)
    written = write_leaderboard(board, Path(root) / "leaderboard")
    print("leaderboard:", ", ".join(str(p) for p in written["files"]))


if __name__ == "__main__":
    main()
