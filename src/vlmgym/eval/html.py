"""The page shell shared by the evaluation report and the leaderboard: one self-contained file.

Both pages open from ``file://`` with no network: styles and scripts are inline, data travels as
JSON inside ``<script type="application/json">`` (escaped so that no model text can close the
tag or start markup), and everything else (images, videos, side data files) is referenced by a
relative path. Model text is hostile: the scripts insert it with ``textContent`` only, and
Python-side text goes through :func:`esc`.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["CSS", "esc", "json_for_script", "page"]


def esc(text: Any) -> str:
    """HTML-escape any value for element content or a quoted attribute."""
    return html.escape(str(text), quote=True)


def json_for_script(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element or a ``.js`` file.

    ``<``, ``>`` and ``&`` become ``\\u003c``... so ``</script>`` or ``<!--`` in model answers
    cannot end the element; U+2028/U+2029 are escaped for older JavaScript parsers.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, rep in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, rep)
    return text


CSS = """
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#667085; --line:#e3e6eb; --accent:#2f6fde;
  --ok:#1f9d55; --bad:#d64545; --warn:#b7791f; --think:#7048c6; --perc:#0f7b8a; --ans:#c05621; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; }
header { background:#1d2330; color:#fff; padding:18px 28px 14px; }
header h1 { margin:0 0 4px; font-size:20px; font-weight:600; }
header .sub { color:#c3c9d5; font-size:13px; }
main { padding:18px 28px 40px; max-width:1480px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px;
  margin:0 0 18px; }
h2 { font-size:16px; margin:0 0 12px; }
h3 { font-size:14px; margin:12px 0 6px; }
table { border-collapse:collapse; }
table.data { width:100%; }
table.data th, table.data td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:right;
  white-space:nowrap; }
table.data th:first-child, table.data td:first-child { text-align:left; }
table.data th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.03em; }
table.data tr:last-child td { border-bottom:none; }
code, pre, .mono { font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace; font-size:12.5px; }
.muted { color:var(--muted); }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600;
  color:#fff; background:var(--muted); }
.pill.ok { background:var(--ok); } .pill.bad { background:var(--bad); } .pill.warn { background:var(--warn); }
.warnings { border-left:4px solid var(--warn); background:#fffaf0; }
.warnings li { margin:2px 0; }
img.figure { max-width:100%; height:auto; border:1px solid var(--line); border-radius:6px; }
details > summary { cursor:pointer; font-weight:600; margin:4px 0; }
.bar { display:inline-block; height:9px; background:var(--accent); border-radius:3px; vertical-align:middle;
  margin-left:8px; opacity:.75; }
.bar.ref { background:#98a2b3; }
"""


def page(title: str, body: str, *, data: Any = None, script: str = "", style: str = "") -> str:
    """A whole HTML document: shared styles, ``body`` (trusted markup), optional JSON ``data``
    (read by the script from ``#vlmgym-data``) and an inline ``script``."""
    blob = "" if data is None else (
        f'<script type="application/json" id="vlmgym-data">{json_for_script(data)}</script>\n')
    js = f"<script>\n{script}\n</script>\n" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<link rel="icon" href="data:,">\n<title>{esc(title)}</title>\n'
            f"<style>{CSS}{style}</style>\n</head>\n<body>\n{body}\n{blob}{js}</body>\n</html>\n")
