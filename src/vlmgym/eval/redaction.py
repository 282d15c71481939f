"""Secrets never reach a file or the terminal: one redaction applied at every sink.

Everything the evaluation harness and the cold-start builder write (``config.json``,
``steps.jsonl``, ``summary.json``, ``summary.md``, dataset rows, statistics) or print (results,
errors) passes through :func:`redact` (structures) or :func:`redact_text` (strings). They remove:

* **known secrets**, registered with :func:`add_secret` by whoever reads them (the OpenAI-compatible
  client registers its API key, the credentials of its base URL and proxy, and secret-looking
  headers and ``extra_body`` fields): every occurrence is replaced, wherever it appears (an error
  body or a model answer that echoes the request included). Values shorter than
  :data:`MIN_SECRET_CHARS` are not replaced inside free text (they would hit ordinary words); the
  patterns below still catch them in the places they are written;
* **secret-looking text**: URL credentials (``scheme://user:password@``), ``Authorization`` and
  ``Proxy-Authorization`` header values, ``Bearer <token>``, values of key-like fields
  (``api_key=...``, ``"token": "..."``, ``password: ...``) and API keys of the common ``sk-...`` and
  ``hf_...`` shapes;
* in structures, the whole value of every entry whose name looks secret (:func:`is_secret_name`:
  ``api_key``, ``hf_token``, ``client_secret``, ``password``, ``authorization``, ...; not
  ``api_key_env``, which names a variable, nor ``max_tokens``).

Each is replaced by :data:`REDACTED`. Redaction happens when text is written, after it was used:
a model answer is scored as it came and stored redacted.
"""

from __future__ import annotations

import re
import threading
from typing import Any

__all__ = ["MIN_SECRET_CHARS", "REDACTED", "add_secret", "is_secret_name", "redact", "redact_text"]

#: What a secret is replaced with.
REDACTED = "<redacted>"
#: Known secrets shorter than this are not searched for inside free text.
MIN_SECRET_CHARS = 8

_SUFFIXES = ("key", "token", "secret", "password", "passwd", "pwd", "auth", "authorization", "cookie",
             "credential", "credentials")
_SEP = r"""\\?["']?\s*[:=]\s*\\?["']?"""  # = or :, with the quotes (maybe escaped) of a field
_VALUE = rf"""(?P<v>{re.escape(REDACTED)}|[^\s"'\\,;&}}\]<>]+)"""  # (already redacted ones stay whole)
# Patterns in lower case: they run on the lower-cased text (an order of magnitude faster than
# IGNORECASE) and the value group ``v`` is replaced at the same place in the original. Each comes
# with substrings without which it cannot match: most texts have none and skip it.
_PATTERN_SOURCES = [
    # scheme://user:password@host
    (r"://(?P<v>[^\s/@'\"<>]+)@", ("://",)),
    # Authorization: Bearer x / 'Proxy-Authorization': 'Basic x' / authorization=x
    (rf"authorization{_SEP}(?:(?:bearer|basic|token|digest)\s+)?{_VALUE}", ("authorization",)),
    (rf"\bbearer\s+{_VALUE}", ("bearer",)),
    # api_key=x, "token": "x", password: x: a name ending in a secret word right before the
    # separator (so not max_tokens, api_key_env, keyboard)
    (rf"(?:key|token|secret|password|passwd|pwd|auth|cookie|credentials?){_SEP}{_VALUE}",
     ("key", "token", "secret", "passw", "pwd", "auth", "cookie", "credential")),
    # well-known key shapes
    (r"\b(?P<v>sk-[a-z0-9_-]{16,}|hf_[a-z0-9]{20,})", ("sk-", "hf_")),
]
_PATTERNS = [(re.compile(src), re.compile(src, re.IGNORECASE), triggers) for src, triggers in _PATTERN_SOURCES]

_lock = threading.Lock()
_known: tuple[str, ...] = ()  # longest first, so that a secret containing another goes whole


def add_secret(value: Any) -> None:
    """Register a secret value: from now on it is replaced wherever it appears.

    Call it for any credential your own policy reads (the built-in clients do it for theirs).
    Empty and non-string values are ignored.
    """
    global _known
    if not isinstance(value, str) or len(value) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value not in _known:
            _known = tuple(sorted({*_known, value}, key=len, reverse=True))


def is_secret_name(name: Any) -> bool:
    """Whether a field, header or option name looks like it holds a secret."""
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return key.endswith(_SUFFIXES)


def redact_text(text: str) -> str:
    """``text`` with every known and every secret-looking value replaced by :data:`REDACTED`."""
    if not text:
        return text
    for secret in _known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    lower = text.lower()
    for lower_case, any_case, triggers in _PATTERNS:
        if not any(t in lower for t in triggers):
            continue
        same_places = len(lower) == len(text)  # (lower-casing can change lengths: rare scripts)
        pieces, last = [], 0
        for m in (lower_case.finditer(lower) if same_places else any_case.finditer(text)):
            pieces += [text[last:m.start("v")], REDACTED]
            last = m.end("v")
        if pieces:
            text = "".join(pieces) + text[last:]
            lower = text.lower()
    return text


def redact(value: Any) -> Any:
    """A copy of a JSON-like structure with secrets removed: entries with a secret-looking name
    lose their value, every string goes through :func:`redact_text`. Other values are kept."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_name(k) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
