"""An OpenAI-compatible chat client on the standard library, and the ``openai:MODEL`` policy.

Works with any server that implements ``POST {base_url}/chat/completions`` with image inputs
(``vllm serve``, ``transformers serve``, SGLang, OpenAI, ...). No third-party dependency: one
``http.client`` connection per worker thread, kept alive between requests.

A server is untrusted: whatever it does, a query ends as an answer or as a failed request, never
as an exception out of the harness.

* at most ``concurrency`` requests in flight;
* ``timeout``: a total deadline per attempt, covering connecting, sending and every read; a
  watchdog cuts the connection when it passes, so a server that drips one byte at a time cannot
  hold a request;
* ``max_response_bytes``: a response body larger than this is not read further (declared by its
  ``Content-Length`` or found while reading) and the request fails at once, saying so;
* every body is parsed by :func:`parse_chat_reply`, a bounded and total parser: anything that is
  not a chat completion of the documented shape (not JSON, nested beyond the recursion limit, a
  wrong type anywhere) is a *malformed reply*;
* retries with exponential backoff and jitter on HTTP 408/409/429/5xx, connection errors,
  timeouts and malformed replies (``Retry-After`` is honoured, capped); other HTTP errors (400,
  401, 404, ...) fail at once, with the server's message;
* a request that still fails is returned as ``Reply(text=None, error=...)`` and recorded by the
  harness as a failed request;
* ``HTTP_PROXY``/``HTTPS_PROXY`` (read as ``urllib.request.getproxies_environment`` does, lower
  case first) and ``NO_PROXY`` (``*``, domains with their sub-domains, ``host:port``, IP addresses
  and CIDR networks) are honoured; loopback hosts (``localhost``, ``127.0.0.0/8``, ``::1``) never
  go through a proxy. ``https`` endpoints are tunnelled (``CONNECT``) through an ``http://`` proxy;
* credentials in the base URL (``https://user:password@host/v1``) are sent as HTTP Basic
  authentication (instead of the Bearer key); proxy credentials as ``Proxy-Authorization``;
* every secret the client knows (the key, URL and proxy credentials, secret-looking headers and
  ``extra_body`` fields) is registered with :mod:`vlmgym.eval.redaction`, and every error text is
  redacted and made printable (control characters escaped) before it leaves the client.

Each image is PNG-encoded once (fast setting) and the request body is built once per query, so
retries resend the same bytes; the body size is reported as ``request_bytes``.

Why not ``httpx``: its timeouts are per operation too, so the total deadline would still need
this watchdog; the size cap and the reply parser are ours either way; proxies take the standard
library a few lines; and without it ``openai:MODEL`` keeps working on the core install.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import json
import math
import os
import random
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vlmgym.eval.interface import GenerationConfig, Policy, PolicyError, Query, Reply
from vlmgym.eval.redaction import add_secret, is_secret_name, redact, redact_text

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "ChatClient", "ChatResult", "MalformedReply", "OpenAIPolicy",
           "RequestFailed", "build_chat_body", "parse_chat_reply"]

#: Default cap on the bytes of one response body (a chat completion is a few kB).
DEFAULT_MAX_RESPONSE_BYTES = 8 << 20
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_MAX_ERROR_TEXT = 300
_MAX_USAGE = 1 << 53


class RequestFailed(Exception):
    """A request that did not succeed after all retries (``attempts`` made)."""

    def __init__(self, message: str, attempts: int, retryable: bool = True):
        super().__init__(message)
        self.attempts = attempts
        self.retryable = retryable


class MalformedReply(ValueError):
    """A response body that is not a chat completion (see :func:`parse_chat_reply`)."""


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


def _printable(text: str, limit: int = _MAX_ERROR_TEXT) -> str:
    """At most ``limit`` characters of ``text``, secrets redacted (over a wider window than is
    kept, so that none is cut in half), control characters and lone surrogates escaped (safe to
    store and to print on a terminal)."""
    text = redact_text(text[: 4 * limit])[:limit]
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _snippet(data: bytes) -> str:
    # (redacted over a wider window than is kept, so no secret is cut in half at the end)
    return _printable(data[: 4 * _MAX_ERROR_TEXT].decode("utf-8", "replace"))


def parse_chat_reply(data: bytes) -> tuple[str, dict[str, int] | None, str | None]:
    """``(text, usage, finish_reason)`` of a chat-completion body; :class:`MalformedReply` for
    anything else, whatever the bytes (the parser is total: no other exception escapes).

    Accepted: a JSON object with ``choices[0].message.content`` a string, ``null`` (empty text)
    or a list of content parts, each an object whose ``text``, when present, is a string. Usage
    counts that are not non-negative integers are dropped; a non-string ``finish_reason`` is
    ``None``. A body ``{"error": ...}`` without choices is reported with the server's message.
    """
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError) as exc:  # (UnicodeDecodeError is a ValueError)
        raise MalformedReply(f"not JSON ({type(exc).__name__}: {_printable(str(exc), 120)})") from None
    try:
        return _chat_fields(payload)
    except MalformedReply:
        raise
    except Exception as exc:  # noqa: BLE001 - the parser must be total: any surprise is malformed
        raise MalformedReply(f"unexpected shape ({type(exc).__name__})") from None


def _chat_fields(payload: Any) -> tuple[str, dict[str, int] | None, str | None]:
    if not isinstance(payload, dict):
        raise MalformedReply(f"the body is a JSON {type(payload).__name__}, not an object")
    if "error" in payload and "choices" not in payload:
        raise MalformedReply(f"server error: {_error_message(payload)}")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedReply("no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedReply("the choice has no message object")
    content = message.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):  # content parts
        parts = []
        for part in content:
            if not isinstance(part, dict):
                raise MalformedReply(f"a content part is a {type(part).__name__}, not an object")
            value = part.get("text")
            if value is None:
                continue  # not a text part (an image, a refusal, ...)
            if not isinstance(value, str):
                raise MalformedReply(f"a content part's text is a {type(value).__name__}, not a string")
            parts.append(value)
        text = "".join(parts)
    else:
        raise MalformedReply(f"the message content is a {type(content).__name__}")
    usage = payload.get("usage")
    counts = None
    if isinstance(usage, dict):
        counts = {str(k): v for k, v in usage.items()
                  if type(v) is int and 0 <= v < _MAX_USAGE}  # (not bool, not huge)
    finish = choices[0].get("finish_reason")
    return text, counts, finish if isinstance(finish, str) else None


def _error_message(payload: dict[str, Any]) -> str:
    """The server's message in an ``{"error": ...}`` body (OpenAI: ``{"error": {"message": ...}}``)."""
    error = payload["error"]
    message = error.get("message") if isinstance(error, dict) else error
    return _printable(message if isinstance(message, str) else repr(error))


def _status_text(data: bytes) -> str:
    """What to say about a non-200 body: the server's error message, else the body's start."""
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        return _error_message(payload)
    return _snippet(data)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _no_proxy(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, a domain (``example.org`` also covers its
    sub-domains; a leading dot is ignored), ``host:port``, an IP address or a CIDR network."""
    host = host.lower()
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host) in ipaddress.ip_network(name.strip("[]"), strict=False):
                return True
    return False


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _credentials(parsed: urllib.parse.SplitResult) -> str | None:
    """The ``Basic`` header value for URL credentials (registered as secrets), or None."""
    if parsed.username is None and parsed.password is None:
        return None
    user = urllib.parse.unquote(parsed.username or "")
    password = urllib.parse.unquote(parsed.password or "")
    header = _basic(user, password)
    for secret in (password, header[len("Basic "):], parsed.netloc.rpartition("@")[0]):
        add_secret(secret)
    return header


class _Route:
    """How to reach the endpoint: directly, or through an ``http://`` proxy (plain requests for
    ``http`` endpoints, a ``CONNECT`` tunnel for ``https`` ones)."""

    def __init__(self, scheme: str, host: str, port: int, path: str):
        self.scheme, self.host, self.port, self.path = scheme, host, port, path
        self.proxy: tuple[str, int] | None = None
        self.proxy_auth: str | None = None
        proxies = urllib.request.getproxies_environment()
        proxy = proxies.get(scheme)
        if not proxy or _is_loopback(host) or _no_proxy(host, port, proxies.get("no", "")):
            return
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parsed.scheme != "http" or not parsed.hostname:
            raise PolicyError(f"{scheme}_proxy must be an http:// proxy URL like http://proxy:3128, got "
                              f"{redact_text(proxy)!r}")
        self.proxy = (parsed.hostname, parsed.port or 80)
        self.proxy_auth = _credentials(parsed)

    def describe(self) -> str:
        return "direct" if self.proxy is None else f"proxy http://{self.proxy[0]}:{self.proxy[1]}"

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        https = self.scheme == "https"
        cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        if self.proxy is None:
            return cls(self.host, self.port, timeout=timeout)
        if https:  # TLS end to end, through a CONNECT tunnel
            conn = cls(*self.proxy, timeout=timeout)
            conn.set_tunnel(self.host, self.port,
                            headers={"Proxy-Authorization": self.proxy_auth} if self.proxy_auth else None)
            return conn
        return http.client.HTTPConnection(*self.proxy, timeout=timeout)

    def target(self) -> str:
        """The request target: the path, or the absolute URL for a plain proxy."""
        if self.proxy is None or self.scheme == "https":
            return self.path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


class _Watchdog:
    """Cuts one attempt's connection when its deadline passes (a socket timeout bounds one
    blocking call, not a request made of many small reads)."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float):
        self._conn = conn
        self._lock = threading.Lock()
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


class _TooLarge(Exception):
    pass


class ChatClient:
    """Thread-safe client for ``POST {base_url}/chat/completions``.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` or ``https://api.openai.com/v1``; credentials
            in it (``user:password@``) are sent as HTTP Basic authentication.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends no header.
        timeout: total seconds per attempt: connecting, sending and reading the whole response.
        max_retries: retries after the first attempt.
        backoff: first retry delay in seconds (doubles each retry, with jitter).
        max_backoff: cap on one delay (also caps ``Retry-After``).
        max_response_bytes: the largest response body read; a larger one fails the request.
        headers: extra request headers (secret-looking ones are redacted wherever they are echoed).
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 120.0,
                 max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 headers: dict[str, str] | None = None, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES):
        try:
            parsed = urllib.parse.urlsplit(base_url) if isinstance(base_url, str) else None
            port = parsed.port if parsed is not None else None
        except ValueError:  # e.g. a port out of range
            parsed, port = None, None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise PolicyError("base_url must be an http(s) URL like http://127.0.0.1:8000/v1, got "
                              f"{redact_text(str(base_url))!r}")
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0) \
                or max_retries < 0 or backoff < 0:
            raise PolicyError("timeout must be a finite number > 0, retries and backoff >= 0")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) \
                or max_response_bytes < 1024:
            raise PolicyError(f"max_response_bytes must be an integer >= 1024, got {max_response_bytes!r}")
        basic = _credentials(parsed)
        host = parsed.hostname
        # the URL as recorded: without its credentials
        netloc = parsed.netloc.rpartition("@")[2]
        self.base_url = urllib.parse.urlunsplit(parsed._replace(netloc=netloc)).rstrip("/")
        self.route = _Route(parsed.scheme, host, port or (443 if parsed.scheme == "https" else 80),
                            parsed.path.rstrip("/") + "/chat/completions")
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_response_bytes = int(max_response_bytes)
        self.authentication = "basic (base_url credentials)" if basic else ("bearer" if api_key else "none")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": "vlmgym-eval"}
        if basic:
            self._headers["Authorization"] = basic
        elif api_key:
            add_secret(api_key)
            self._headers["Authorization"] = f"Bearer {api_key}"
        for name, value in (headers or {}).items():
            if is_secret_name(name):
                add_secret(value)
            self._headers[name] = value
        if self.route.proxy is not None and self.route.scheme == "http" and self.route.proxy_auth:
            self._headers["Proxy-Authorization"] = self.route.proxy_auth
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._jitter = random.Random()

    # -- connections -------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.route.connection(self.timeout)
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
    def _read_body(self, resp: http.client.HTTPResponse) -> bytes:
        cap = self.max_response_bytes
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > cap:
            raise _TooLarge(f"the response declares {int(declared):,} bytes")
        chunks, size = [], 0
        while chunk := resp.read(min(1 << 16, cap + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise _TooLarge("the response is longer")
        return b"".join(chunks)

    def _attempt(self, body: bytes) -> tuple[str, dict[str, int] | None, str | None]:
        conn = self._connection()
        watchdog = _Watchdog(conn, self.timeout)
        try:
            conn.request("POST", self.route.target(), body=body, headers=self._headers)
            resp = conn.getresponse()
            status = resp.status
            data = self._read_body(resp)
            retry_after = resp.getheader("Retry-After")
            if watchdog.fired:  # a cut connection can look like the end of a body without length
                raise TimeoutError
            if resp.getheader("Connection", "").lower() == "close":
                self._drop_connection()
        except _TooLarge as exc:
            self._drop_connection()  # the rest of the body is unread
            raise RequestFailed(f"response cut: {exc}, more than max_response_bytes="
                                f"{self.max_response_bytes:,}", attempts=1, retryable=False) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            self._drop_connection()
            if watchdog.fired or isinstance(exc, TimeoutError):  # (socket.timeout is TimeoutError)
                raise _Retryable(f"timeout: no complete response within {self.timeout:g} s") from None
            raise _Retryable(f"connection error: {type(exc).__name__}: {_printable(str(exc))}") from None
        finally:
            watchdog.cancel()
        if status != 200:
            message = f"HTTP {status}: {_status_text(data)}"
            if status in _RETRY_STATUS or status >= 500:
                raise _Retryable(message, _parse_retry_after(retry_after))
            raise RequestFailed(message, attempts=1, retryable=False)
        try:
            return parse_chat_reply(data)
        except MalformedReply as exc:
            raise _Retryable(f"malformed reply ({exc}): {_snippet(data)!r}") from None

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
                if self._closed.is_set():
                    raise RequestFailed("client closed", attempt + 1, retryable=False) from None
                raise
            except _Retryable as exc:
                if self._closed.is_set():
                    raise RequestFailed("client closed", attempt + 1, retryable=False) from None
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


def _register_secret_fields(value: Any) -> None:
    """Register the values of secret-looking fields at any depth of a JSON-like structure."""
    if isinstance(value, dict):
        for k, v in value.items():
            if is_secret_name(k) and isinstance(v, (str, int, float)) and not isinstance(v, bool):
                add_secret(str(v))
            _register_secret_fields(v)
    elif isinstance(value, list):
        for v in value:
            _register_secret_fields(v)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # (an HTTP date: the backoff applies)
    return max(0.0, seconds) if math.isfinite(seconds) else None


class OpenAIPolicy(Policy):
    """``openai:MODEL``: one chat request per query against an OpenAI-compatible endpoint.

    Args:
        model: the model name the server knows (``vllm serve PATH`` serves it as ``PATH`` unless
            ``--served-model-name`` is given).
        base_url: endpoint root; default ``$OPENAI_BASE_URL`` or ``https://api.openai.com/v1``.
            Credentials in it (``https://user:password@host/v1``) are sent as HTTP Basic
            authentication instead of the key (which is then not needed) and never recorded.
        api_key_env: environment variable holding the key (the key itself is never recorded).
            A local ``vllm serve`` without ``--api-key`` accepts any value, e.g. ``EMPTY``.
        concurrency: most requests in flight.
        timeout, retries, backoff, max_response_bytes: see :class:`ChatClient`.
        generation: sampling settings; ``seed`` (plus the query's seed) is sent per request so
            sampling servers such as vLLM reproduce answers.
        extra_body: extra JSON fields for every request (e.g. ``{"top_k": 20}``); a ``None``
            value removes a field, e.g. ``{"max_tokens": None, "max_completion_tokens": 4096}``
            for OpenAI reasoning models. Values of secret-looking fields (``api_key``, ...) are
            sent, and redacted everywhere else.
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout: float = 120.0, retries: int = 4, backoff: float = 1.0,
                 generation: GenerationConfig | None = None, seed: int = 0,
                 extra_body: dict[str, Any] | None = None, send_seed: bool = True,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES):
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise PolicyError(f"concurrency must be a positive integer, got {concurrency!r}")
        if extra_body is not None and not isinstance(extra_body, dict):
            raise PolicyError(f"extra_body must be a JSON object, got {type(extra_body).__name__}")
        _register_secret_fields(extra_body or {})
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        api_key = os.environ.get(api_key_env) if api_key_env else None
        has_credentials = "@" in urllib.parse.urlsplit(str(base_url)).netloc
        if not api_key and not has_credentials:
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
        self.client = ChatClient(base_url, api_key, timeout=timeout, max_retries=retries, backoff=backoff,
                                 max_response_bytes=max_response_bytes)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="vlmgym-openai")

    def config(self) -> dict[str, Any]:
        return redact({"name": self.name, "model": self.model, "base_url": self.client.base_url,
                       "api_key_env": self.api_key_env, "authentication": self.client.authentication,
                       "route": self.client.route.describe(), "concurrency": self.concurrency,
                       "timeout": self.client.timeout, "retries": self.client.max_retries,
                       "max_response_bytes": self.client.max_response_bytes,
                       "generation": vars(self.generation).copy(), "extra_body": self.extra_body,
                       "send_seed": self.send_seed})

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
