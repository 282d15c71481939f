"""The openai:MODEL policy against a real HTTP server on 127.0.0.1 (no patched client).

The server implements ``POST /v1/chat/completions`` with image inputs: it checks that every image
is a PNG data URI that decodes, records each request, and answers from a script that can inject
HTTP 500/429/400, sleeps beyond the client timeout, malformed bodies and dropped connections, raw
bodies, responses dripped one byte at a time, and echoes of the request (headers and body). It
also accepts the absolute request targets a client sends through a proxy, and refuses CONNECT.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import urllib.parse
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from vlmgym.cli import main
from vlmgym.eval.openai_client import ChatClient, OpenAIPolicy, RequestFailed, build_chat_body
from vlmgym.eval.policies import GenerationConfig, PolicyError, query_seed
from vlmgym.eval.runner import read_jsonl

KEY = "sk-test-secret-123"


class FakeChatServer:
    """A scripted OpenAI-compatible chat server in a background thread."""

    def __init__(self) -> None:
        self.script: deque = deque()       # actions for the next requests, in arrival order
        self.fail_seeds: dict[int, int] = {}  # request seed -> HTTP status, always
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.pngs: list[tuple[int, int]] = []
        self.paths: list[str] = []          # request targets as sent (absolute through a proxy)
        self.dripped = 0                      # bytes written by "drip" actions
        self.connects: list[tuple[str, dict]] = []  # CONNECT requests (answered 403)
        self.lock = threading.Lock()
        self.errors: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_CONNECT(self):
                with server.lock:
                    server.connects.append((self.path, dict(self.headers)))
                self._send(403, b"no tunnels here")

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with server.lock:
                    server.paths.append(self.path)
                if urllib.parse.urlsplit(self.path).path != "/v1/chat/completions":
                    return self._send(404, b'{"error": "not found"}')
                try:
                    body = json.loads(raw)
                    server._check(body)
                except Exception as exc:  # a bad request is a test failure, reported below
                    with server.lock:
                        server.errors.append(repr(exc))
                    return self._send(400, json.dumps({"error": repr(exc)}).encode())
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    status = server.fail_seeds.get(body.get("seed"))
                    action = server.script.popleft() if server.script and status is None else ("ok",)
                if status is not None:
                    return self._send(status, b'{"error": {"message": "always failing"}}')
                kind = action[0]
                if kind == "status":
                    headers = {"Retry-After": "0"} if action[1] == 429 else {}
                    return self._send(action[1], b'{"error": {"message": "injected"}}', headers)
                if kind == "sleep":
                    time.sleep(action[1])
                    return self._send(200, server._completion(body))
                if kind == "malformed":
                    return self._send(200, b'{"choices": [ this is not json')
                if kind == "nochoices":
                    return self._send(200, b'{"object": "chat.completion"}')
                if kind == "drop":
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return None
                if kind == "raw":  # ("raw", status, body bytes[, headers])
                    return self._send(action[1], action[2], action[3] if len(action) > 3 else None)
                if kind == "echo":  # the request's headers and body, in an error body or as the answer
                    echo = f"you sent headers {dict(self.headers)} and body {raw.decode()}"
                    if action[1] == 200:
                        return self._send(200, server._completion(body, echo))
                    return self._send(action[1], json.dumps({"error": {"message": echo}}).encode())
                if kind == "drip":  # ("drip", seconds per byte, "headers" | "body")
                    return self._drip(action[1], action[2], server._completion(body))
                if kind == "unsized":  # no Content-Length: the body ends when the connection closes
                    self.close_connection = True
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(action[1])
                    return None
                return self._send(200, server._completion(body, action[1] if len(action) > 1 else None))

            def _drip(self, interval, phase, payload):
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\n\r\n").encode()
                self.close_connection = True
                if phase == "body":
                    self.wfile.write(head)
                data = payload if phase == "body" else head + payload
                try:
                    for i in range(len(data)):
                        self.wfile.write(data[i:i + 1])
                        with server.lock:
                            server.dripped += 1
                        time.sleep(interval)
                except OSError:  # the client gave up
                    pass

            def _send(self, status, payload, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _check(self, body: dict) -> None:
        assert isinstance(body["model"], str) and body["messages"][-1]["role"] == "user"
        content = body["messages"][-1]["content"]
        images = [p for p in content if p["type"] == "image_url"]
        texts = [p for p in content if p["type"] == "text"]
        assert len(texts) == 1 and texts[0]["text"]
        for part in images:
            uri = part["image_url"]["url"]
            prefix = "data:image/png;base64,"
            assert uri.startswith(prefix), uri[:40]
            data = base64.b64decode(uri[len(prefix):], validate=True)
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            img = Image.open(io.BytesIO(data))
            img.load()
            assert img.mode == "RGB"
            with self.lock:
                self.pngs.append(img.size)

    @staticmethod
    def _completion(body: dict, text: str | None = None) -> bytes:
        if text is None:
            # echo the board (given as text in obs_mode=image+text) as a perfect perception block
            user = body["messages"][-1]["content"][-1]["text"]
            board = user.split("Current board:\n", 1)[1] if "Current board:\n" in user else "?"
            text = f"<perception>\n{board}\n</perception><think>go</think><answer>{body.get('seed', 0) % 4}</answer>"
        payload = {"id": "x", "object": "chat.completion", "model": body["model"],
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}
        return json.dumps(payload).encode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _body(text: str = "hi", png: bytes | None = None, seed: int | None = 1) -> bytes:
    return build_chat_body("m", text, png, GenerationConfig(max_tokens=8), seed=seed)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (28, 28), (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


# -- the client ---------------------------------------------------------------------------------
def test_client_retries_500_429_malformed_drop_then_succeeds(server):
    server.script.extend([("status", 500), ("status", 429), ("malformed",), ("nochoices",), ("drop",),
                          ("ok", "<answer>1</answer>")])
    client = ChatClient(server.url, KEY, timeout=5, max_retries=6, backoff=0.001)
    result = client.chat(_body(png=_png()))
    assert result.text == "<answer>1</answer>"
    assert result.attempts == 6
    assert result.usage == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert len(server.requests) == 6 and server.pngs == [(28, 28)] * 6
    assert all(h["Authorization"] == f"Bearer {KEY}" for h in server.headers)
    client.close()


def test_client_timeout_is_retried_and_reported(server):
    server.script.extend([("sleep", 1.0), ("ok", "done")])
    client = ChatClient(server.url, KEY, timeout=0.3, max_retries=1, backoff=0.001)
    start = time.perf_counter()
    result = client.chat(_body())
    assert result.text == "done" and result.attempts == 2
    assert time.perf_counter() - start < 1.0  # the slow answer was not waited for
    server.script.extend([("sleep", 1.0), ("sleep", 1.0)])
    with pytest.raises(RequestFailed, match="timeout") as info:
        client.chat(_body())
    assert info.value.attempts == 2


def test_client_gives_up_after_retries_and_does_not_retry_400(server):
    server.script.extend([("status", 503)] * 3)
    client = ChatClient(server.url, None, timeout=5, max_retries=2, backoff=0.001)
    with pytest.raises(RequestFailed, match="HTTP 503") as info:
        client.chat(_body())
    assert info.value.attempts == 3 and len(server.requests) == 3
    server.script.append(("status", 400))
    with pytest.raises(RequestFailed, match="HTTP 400") as info:
        client.chat(_body())
    assert info.value.attempts == 1 and len(server.requests) == 4
    assert "Authorization" not in server.headers[-1]


def test_client_connection_refused_is_a_failed_request():
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ChatClient(f"http://127.0.0.1:{port}/v1", KEY, timeout=1, max_retries=2, backoff=0.001)
    with pytest.raises(RequestFailed, match="connection error") as info:
        client.chat(_body())
    assert info.value.attempts == 3


def test_bad_base_url_and_missing_key(monkeypatch):
    with pytest.raises(PolicyError, match="http"):
        ChatClient("ftp://x/v1")
    monkeypatch.delenv("MY_KEY_VAR", raising=False)
    with pytest.raises(PolicyError, match=r"\$MY_KEY_VAR"):
        OpenAIPolicy("m", base_url="http://127.0.0.1:9/v1", api_key_env="MY_KEY_VAR")


# -- the whole evaluation through the CLI -----------------------------------------------------------
def _eval_args(server, out, *extra):
    return ["eval", "VLMGym/2048-v0", "obs_mode=image+text", "--policy", "openai:tiny-model",
            "--base-url", server.url, "--api-key-env", "TEST_VLMGYM_KEY", "--runs", "3", "--steps", "4",
            "--timeout", "0.5", "--retries", "3", "--concurrency", "3", "--policy-arg", "backoff=0.001",
            "--max-tokens", "64", "--out", str(out), "--no-video", "--no-curves", "--no-progress", *extra]


def test_eval_against_server_with_injected_faults(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_VLMGYM_KEY", KEY)
    server.script.extend([("status", 500), ("status", 429), ("malformed",), ("sleep", 1.0)])
    # one query fails on every attempt: run 1 at step 2 (the request seed identifies it)
    bad_seed = (0 * 1_000_003 + query_seed(0, "VLMGym/2048-v0", 1, 2)) & 0x7FFFFFFF
    server.fail_seeds[bad_seed] = 502
    out = tmp_path / "ev"
    assert main(_eval_args(server, out)) == 0
    records = read_jsonl(out / "steps.jsonl")
    assert len(records) == 12 and sorted((r["run"], r["step"]) for r in records) == [
        (r, s) for r in range(3) for s in range(1, 5)]
    failed = [r for r in records if r["status"] == "request_failed"]
    assert [(r["run"], r["step"]) for r in failed] == [(1, 2)]
    f = failed[0]
    assert f["answer"] is None and "HTTP 502" in f["error"] and f["attempts"] == 4
    assert f["reward"] == -1.0 and f["perception_exact"] is None
    ok = [r for r in records if r["status"] != "request_failed"]
    assert all(r["perception_exact"] and r["perception_cell_accuracy"] == 1.0 and r["format_ok"] for r in ok)
    assert sum(r["attempts"] for r in ok) == len(ok) + 4  # the four injected faults were retried
    # one valid PNG of the observed board (224 x 252 with the score line) in every request
    assert server.pngs == [(224, 252)] * len(server.requests)
    assert all(r["request_bytes"] > 1000 for r in records)  # the PNG data URI is in the body
    assert all(r["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18} for r in ok)
    # the same seed per (run, step) is sent to the server, so sampling servers reproduce answers
    seeds = {(r["run"], r["step"]): r["answer"] for r in ok}
    assert all(a.endswith(f"<answer>{((query_seed(0, 'VLMGym/2048-v0', run, step)) % 4)}</answer>")
               for (run, step), a in seeds.items())
    summary = json.loads((out / "summary.json").read_text())
    game = summary["games"]["VLMGym/2048-v0"]
    assert game["per_run"]["request_failed"] == [0.0, 1.0, 0.0]
    assert game["pooled"]["perception_exact_rate"] == 1.0
    assert summary["policy"]["model"] == "tiny-model" and summary["policy"]["api_key_env"] == "TEST_VLMGYM_KEY"
    for name in ("config.json", "summary.json", "summary.md", "steps.jsonl"):
        assert KEY not in (out / name).read_text()


def test_eval_aborts_when_every_request_fails_then_resumes(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEST_VLMGYM_KEY", KEY)
    out = tmp_path / "ev"
    # step 1 succeeds, then the endpoint goes down for every request of step 2
    seeds_step2 = [query_seed(0, "VLMGym/2048-v0", r, 2) for r in range(3)]
    for s in seeds_step2:
        server.fail_seeds[s] = 503
    assert main(_eval_args(server, out)) == 3
    err = capsys.readouterr().err
    assert "every request of step 2 failed" in err and "--resume" in err
    assert {r["step"] for r in read_jsonl(out / "steps.jsonl")} == {1}
    server.fail_seeds.clear()
    assert main(["eval", "--resume", "--out", str(out), "--base-url", server.url, "--api-key-env",
                 "TEST_VLMGYM_KEY", "--policy-arg", "backoff=0.001", "--no-video", "--no-curves",
                 "--no-progress"]) == 0
    records = read_jsonl(out / "steps.jsonl")
    assert len(records) == 12 and not [r for r in records if r["status"] == "request_failed"]


def test_policy_sends_text_only_in_text_mode(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_VLMGYM_KEY", KEY)
    out = tmp_path / "ev"
    args = _eval_args(server, out)
    args[2] = "obs_mode=text"
    assert main(args + ["--system-prompt", "be brief", "--temperature", "0.7"]) == 0
    assert server.pngs == []
    body = server.requests[0]
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["temperature"] == 0.7 and body["max_tokens"] == 64
    assert re.search(r"Current board:\n", body["messages"][-1]["content"][-1]["text"])


def test_close_cuts_requests_in_flight_and_pending_retries(server):
    server.script.extend([("sleep", 5.0), ("status", 503)])
    client = ChatClient(server.url, KEY, timeout=30, max_retries=3, backoff=10.0)
    errors = []

    def call():
        try:
            client.chat(_body())
        except RequestFailed as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # one request sleeps on the server, the other waits 5-10 s before retrying
    start = time.perf_counter()
    client.close()
    for t in threads:
        t.join(timeout=3)
    assert not any(t.is_alive() for t in threads)
    assert time.perf_counter() - start < 2.0
    assert sorted(errors) == ["client closed", "client closed"]


def test_extra_body_adds_and_removes_fields():
    body = json.loads(build_chat_body("m", "hi", None, GenerationConfig(max_tokens=9), seed=None,
                                      extra={"max_tokens": None, "max_completion_tokens": 9, "top_k": 5}))
    assert "max_tokens" not in body and body["max_completion_tokens"] == 9 and body["top_k"] == 5
    assert "seed" not in body and body["messages"][0]["content"] == [{"type": "text", "text": "hi"}]
