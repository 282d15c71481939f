"""Every ```python block of README.md and docs/**/*.md runs (issue 11: "test every code block").

The blocks run in one fresh interpreter, document by document, in a scratch folder that holds
what they read: ``~/data/cifar-10-binary.tar.gz`` (a tiny archive in the official format, HOME is
the scratch folder), ``~/data/my_set`` (an image folder) and two evaluation runs under
``runs/eval``. Blocks marked ``<!-- skip: REASON -->`` are listed (and must stay few and named);
``<!-- file: NAME -->`` blocks are saved as files for the blocks after them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import doc_blocks
from fake_cifar import write_archive

#: Every block that is not run, and why (a new skip is a conscious edit of this list).
EXPECTED_SKIPS = {
    ("docs/training.md", "needs a GPU, vLLM and the Qwen2.5-VL-7B-Instruct weights"),
    ("docs/training.md", "slow on a CPU (2,000 teacher states); tests/rl/test_rl_coldstart.py builds small ones"),
    ("docs/training.md", "needs a GPU and the Qwen2.5-VL-7B-Instruct weights (SFT, then GRPO)"),
    ("docs/training.md", "a sketch: needs a model (MODEL), its processor and GRPOConfig options"),
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("docs-home")
    write_archive(home / "data", per_class=6)
    rng = np.random.default_rng(0)
    for c in range(10):  # 10 classes of 4 pictures: enough for a full 6 x 6 board of 9 kinds
        folder = home / "data" / "my_set" / f"class {c}"
        folder.mkdir(parents=True)
        for k in range(4):
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{k}.png")
    from vlmgym.eval import EvalConfig, evaluate

    for name, policy in (("random-paper", "random-paper"), ("oracle", "oracle")):
        evaluate(EvalConfig(["VLMGym/2048-v0"], policy=policy, runs=2, steps=3, video=False, curves=False,
                            html=False, step_images=False, progress=False, out=str(home / "runs" / "eval" / name)))
    return home


def test_every_python_block_in_the_docs_runs(scratch, tmp_path):
    spec = tmp_path / "blocks.json"
    spec.write_text(doc_blocks.spec_json())
    report = tmp_path / "report.json"
    env = {**os.environ, "HOME": str(scratch), "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(
        [str(Path(doc_blocks.__file__).parent), os.environ.get("PYTHONPATH", "")])}
    env.pop("VLMGYM_CIFAR10", None)
    proc = subprocess.run([sys.executable, doc_blocks.__file__, str(spec), str(report)], cwd=scratch, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(report.read_text())
    failed = [f"{r['where']}:\n{r['error']}" for r in results if not r["ok"]]
    assert not failed, "\n\n".join(failed)
    print("\n".join(f"{r['where']}: {r.get('seconds', 0):.2f} s" for r in results))
    ran = {r["where"] for r in results}
    expected = {f"{b.doc}:{b.line}" for b in doc_blocks.blocks() if not b.skip}
    assert ran == expected and len(ran) >= 15


def test_skipped_blocks_are_few_and_say_why():
    skipped = [(b.doc, b.skip) for b in doc_blocks.blocks() if b.skip]
    print("\n".join(f"skipped {doc}: {why}" for doc, why in skipped))
    assert set(skipped) == EXPECTED_SKIPS and len(skipped) == len(EXPECTED_SKIPS)
    files = [b for b in doc_blocks.blocks() if b.file]
    assert [(b.doc, b.file) for b in files] == [("docs/api.md", "lights_out.py")]
