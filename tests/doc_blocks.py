"""The ```python blocks of README.md and docs/**/*.md, and a runner that executes them.

Markers, an HTML comment on the line before a block:

* ``<!-- skip: REASON -->``: the block is not run (it needs a GPU, network, model weights, ...);
  the test lists every skipped block with its reason.
* ``<!-- file: NAME -->``: the block is a file the reader saves (as ``NAME``) rather than runs; the
  runner writes it into the working folder, so a later ``import`` of it works.

``python doc_blocks.py BLOCKS.json REPORT.json`` runs the blocks of each document in order in one
fresh namespace per document (as a reader pasting them into one interpreter would), in the current
folder, and writes for every block ``ok`` or the error with its traceback.
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"(?:<!--\s*(skip|file):\s*(.+?)\s*-->\s*\n)?```python\n(.*?)```", re.S)


@dataclass
class Block:
    doc: str          # path relative to the repository
    line: int         # line of the opening fence
    code: str
    skip: str | None  # the reason, for a block that is not run
    file: str | None  # the name, for a block that is a file to save


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks() -> list[Block]:
    out = []
    for path in documents():
        text = path.read_text()
        for m in _BLOCK.finditer(text):
            kind, value, code = m.group(1), m.group(2), m.group(3)
            line = text.count("\n", 0, m.start(3))
            out.append(Block(str(path.relative_to(ROOT)), line, code, value if kind == "skip" else None,
                             value if kind == "file" else None))
    return out


def _run(spec: list[dict], report: Path) -> None:
    sys.path.insert(0, str(Path.cwd()))  # files the blocks saved are importable, as for a reader
    results = []
    namespaces: dict[str, dict] = {}
    for b in spec:
        if b["skip"]:
            continue
        where = f"{b['doc']}:{b['line']}"
        if b["file"]:
            Path(b["file"]).write_text(b["code"])
            results.append({"where": where, "ok": True})
            continue
        ns = namespaces.setdefault(b["doc"], {"__name__": "__main__"})
        start = time.perf_counter()
        try:
            exec(compile(b["code"], where, "exec"), ns)
        except BaseException:
            results.append({"where": where, "ok": False, "error": traceback.format_exc(limit=6)})
        else:
            results.append({"where": where, "ok": True, "seconds": round(time.perf_counter() - start, 2)})
    report.write_text(json.dumps(results))


def spec_json() -> str:
    return json.dumps([asdict(b) for b in blocks()])


if __name__ == "__main__":
    _run(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
