"""Regenerate the README's screenshots of report.html and leaderboard.html (not a test).

    python tests/screenshots.py [docs/images]

Evaluates ``examples/eval_report.py``'s misreading oracle and ``random-paper`` on three games
(4 runs x 30 steps), builds the leaderboard, and captures both pages in headless Chromium
(``tests/browser.py``) at 1360 CSS pixels wide.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "examples")]

from eval_report import main as build  # noqa: E402

from browser import Browser  # noqa: E402


def main(target: str = str(HERE.parent / "docs" / "images")) -> None:
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vlmgym-shots-"))
    build(str(root))
    with Browser() as b:
        b.open((root / "misreading" / "report.html").as_uri() + "#game=VLMGym/Swap-v0&run=1&step=7")
        b.wait_for("document.getElementById('step-image').complete && document.getElementById('step-image').naturalWidth")
        time.sleep(0.3)
        b.screenshot(out / "report.png", height=1480)
        b.open((root / "leaderboard" / "leaderboard.html").as_uri())
        b.wait_for("document.querySelector('img.figure').complete")
        b.screenshot(out / "leaderboard.png")
        problems = b.problems()
    if problems:
        raise SystemExit(f"the pages logged problems: {problems}")
    print(f"wrote {out / 'report.png'} and {out / 'leaderboard.png'} (pages in {root})")


if __name__ == "__main__":
    main(*sys.argv[1:])
