"""An OpenAI-compatible chat client on the standard library, and the ``openai:MODEL`` policy.

Works with any server that implements ``POST {base_url}/chat/completions`` with image inputs
(``vllm serve``, ``transformers serve``, SGLang, OpenAI, ...). No third-party dependency: one
``http.client`` connection per worker thread, kept alive between requests.

Robustness:

* at most ``concurrency`` requests in flight;
* ``timeout`` seconds per request (connect, send and each read);
* retries with exponential backoff and jitter on HTTP 408/409/429/5xx, connection errors,
  timeouts and malformed response bodies (``Retry-After`` is honoured, capped); other HTTP errors
  (400, 401, 404, ...) fail at once, with the server's message;
* a request that still fails is returned as ``Reply(text=None, error=...)`` and recorded by the
  harness as a failed request.

Each image is PNG-encoded once (fast setting) and the request body is built once per query, so
retries resend the same bytes; the body size is reported as ``request_bytes``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vlmgym.eval.interface import GenerationConfig, Policy, PolicyError, Query, Reply

__all__ = ["ChatClient", "ChatResult", "OpenAIPolicy", "RequestFailed", "build_chat_body"]

_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_MAX_ERROR_TEXT = 300


class RequestFailed(Exception):
    """A request that did not succeed after all retries (``attempts`` made)."""

    def __init__(self, message: str, attempts: int, retryable: bool = True):
        super().__init__(message)
        self.attempts = attempts
        self.retryable = retryable


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class ChatResult:
    """A successful chat completion."""

    text: str
    latency_s: float
    attempts: int
    usage: dict[str, int] | None
    finish_reason: str | None


def build_chat_body(model: str, text: str, image_png: bytes | None, generation: GenerationConfig,
                    seed: int | None = None, extra: dict[str, Any] | None = None) -> bytes:
    """The JSON body of one chat request: an optional system message, then one user message with
    the image (a PNG data URI) followed by the text."""
    content: list[dict[str, Any]] = []
    if image_png is not None:
        uri = "data:image/png;base64," + base64.b64encode(image_png).decode("ascii")
        content.append({"type": "image_url", "image_url": {"url": uri}})
    content.append({"type": "text", "text": text})
    messages: list[dict[str, Any]] = []
    if generation.system_prompt:
        messages.append({"role": "system", "content": generation.system_prompt})
    messages.append({"role": "user", "content": content})
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": generation.max_tokens,
        "temperature": generation.temperature,
        "top_p": generation.top_p,
    }
    if seed is not None:
        body["seed"] = seed
    if extra:  # a None value removes a field (e.g. max_tokens for models that want max_completion_tokens)
        body.update(extra)
        body = {k: v for k, v in body.items() if v is not None}
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _message_text(payload: Any) -> tuple[str, dict[str, int] | None, str | None]:
    """Pull the answer out of a chat completion; ``ValueError`` if the body is not one."""
    if not isinstance(payload, dict):
        raise ValueError("response is not a JSON object")
    if "error" in payload and "choices" not in payload:
        raise ValueError(f"server error: {str(payload['error'])[:_MAX_ERROR_TEXT]}")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ValueError("response choice has no message")
    content = message.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):  # content parts
        text = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    else:
        raise ValueError(f"message content has type {type(content).__name__}")
    usage = payload.get("usage")
    usage = {k: int(v) for k, v in usage.items() if isinstance(v, int)} if isinstance(usage, dict) else None
    finish = choices[0].get("finish_reason")
    return text, usage, finish if isinstance(finish, str) else None


class ChatClient:
    """Thread-safe client for ``POST {base_url}/chat/completions``.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` or ``https://api.openai.com/v1``.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends no header.
        timeout: seconds for connecting and for each blocking read/write.
        max_retries: retries after the first attempt.
        backoff: first retry delay in seconds (doubles each retry, with jitter).
        max_backoff: cap on one delay (also caps ``Retry-After``).
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 120.0,
                 max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 headers: dict[str, str] | None = None):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise PolicyError(f"base_url must be an http(s) URL like http://127.0.0.1:8000/v1, got {base_url!r}")
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise PolicyError("timeout must be > 0, retries and backoff >= 0")
        self.base_url = base_url.rstrip("/")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port
        self._path = parsed.path.rstrip("/") + "/chat/completions"
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": "vlmgym-eval"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._headers.update(headers or {})
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._jitter = random.Random()

    # -- connections -------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._lock:
                self._open.discard(conn)

    # -- one attempt -------------------------------------------------------------------------
    def _attempt(self, body: bytes) -> tuple[str, dict[str, int] | None, str | None]:
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=body, headers=self._headers)
            resp = conn.getresponse()
            status = resp.status
            data = resp.read()
            retry_after = resp.getheader("Retry-After")
            if resp.getheader("Connection", "").lower() == "close":
                self._drop_connection()
        except TimeoutError as exc:  # socket.timeout is an alias
            self._drop_connection()
            raise _Retryable(f"timeout after {self.timeout:g}s ({exc or 'read timed out'})") from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            self._drop_connection()
            raise _Retryable(f"connection error: {type(exc).__name__}: {exc}") from None
        snippet = data[:_MAX_ERROR_TEXT].decode("utf-8", "replace")
        if status != 200:
            message = f"HTTP {status}: {snippet}"
            if status in _RETRY_STATUS or status >= 500:
                raise _Retryable(message, _parse_retry_after(retry_after))
            raise RequestFailed(message, attempts=1, retryable=False)
        try:
            return _message_text(json.loads(data))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Retryable(f"malformed response body ({exc}): {snippet!r}") from None

    def chat(self, body: bytes) -> ChatResult:
        """Send one request body, retrying as documented; raise :class:`RequestFailed`."""
        start = time.perf_counter()
        last = ""
        for attempt in range(self.max_retries + 1):
            if self._closed.is_set():
                raise RequestFailed("client closed", attempt, retryable=False)
            try:
                text, usage, finish = self._attempt(body)
                return ChatResult(text, time.perf_counter() - start, attempt + 1, usage, finish)
            except RequestFailed as exc:
                exc.attempts = attempt + 1
                raise
            except _Retryable as exc:
                last = str(exc)
                if attempt == self.max_retries:
                    break
                delay = min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + self._jitter.random() / 2)
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, self.max_backoff))
                self._closed.wait(delay)  # close() ends the wait
        raise RequestFailed(f"failed after {self.max_retries + 1} attempts: {last}", self.max_retries + 1)

    def close(self) -> None:
        """Stop: pending retries give up and requests in flight are cut (their sockets are shut
        down, which wakes the threads blocked on them). Used on Ctrl-C and at the end."""
        self._closed.set()
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            conn.close()


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class OpenAIPolicy(Policy):
    """``openai:MODEL``: one chat request per query against an OpenAI-compatible endpoint.

    Args:
        model: the model name the server knows (``vllm serve PATH`` serves it as ``PATH`` unless
            ``--served-model-name`` is given).
        base_url: endpoint root; default ``$OPENAI_BASE_URL`` or ``https://api.openai.com/v1``.
        api_key_env: environment variable holding the key (the key itself is never recorded).
            A local ``vllm serve`` without ``--api-key`` accepts any value, e.g. ``EMPTY``.
        concurrency: most requests in flight.
        timeout, retries, backoff: see :class:`ChatClient`.
        generation: sampling settings; ``seed`` (plus the query's seed) is sent per request so
            sampling servers such as vLLM reproduce answers.
        extra_body: extra JSON fields for every request (e.g. ``{"top_k": 20}``); a ``None``
            value removes a field, e.g. ``{"max_tokens": None, "max_completion_tokens": 4096}``
            for OpenAI reasoning models.
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 120.0, retries: int = 4, backoff: float = 1.0,
                 generation: GenerationConfig | None = None, seed: int = 0,
                 extra_body: dict[str, Any] | None = None, send_seed: bool = True):
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise PolicyError(f"concurrency must be a positive integer, got {concurrency!r}")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        api_key = os.environ.get(api_key_env) if api_key_env else None
        if not api_key:
            raise PolicyError(
                f"openai:{model} needs an API key in the environment variable ${api_key_env} "
                f"(choose another variable with --api-key-env). For a local `vllm serve` without "
                f"--api-key any value works: export {api_key_env}=EMPTY")
        self.model = model
        self.name = f"openai:{model}"
        self.generation = generation or GenerationConfig()
        self.concurrency = concurrency
        self.api_key_env = api_key_env
        self.seed = int(seed)
        self.send_seed = bool(send_seed)
        self.extra_body = dict(extra_body or {})
        self.client = ChatClient(base_url, api_key, timeout=timeout, max_retries=retries, backoff=backoff)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="vlmgym-openai")

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "base_url": self.client.base_url,
                "api_key_env": self.api_key_env, "concurrency": self.concurrency,
                "timeout": self.client.timeout, "retries": self.client.max_retries,
                "generation": vars(self.generation).copy(), "extra_body": self.extra_body,
                "send_seed": self.send_seed}

    def _one(self, query: Query) -> Reply:
        png = query.png() if query.image is not None else None
        seed = (self.seed * 1_000_003 + query.seed) & 0x7FFFFFFF if self.send_seed else None
        body = build_chat_body(self.model, query.user_text(), png, self.generation, seed, self.extra_body)
        start = time.perf_counter()
        try:
            result = self.client.chat(body)
        except RequestFailed as exc:
            return Reply(text=None, error=str(exc), latency_s=time.perf_counter() - start,
                         request_bytes=len(body), attempts=exc.attempts)
        return Reply(text=result.text, latency_s=result.latency_s, request_bytes=len(body),
                     attempts=result.attempts, usage=result.usage)

    def __call__(self, queries: Sequence[Query]) -> list[str | Reply]:
        return list(self._pool.map(self._one, queries))

    def close(self) -> None:
        self.client.close()  # cuts requests in flight, so an interrupted evaluation exits at once
        self._pool.shutdown(wait=False, cancel_futures=True)
