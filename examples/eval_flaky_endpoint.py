"""Evaluate against an OpenAI-compatible endpoint that misbehaves, and see what the harness records.

A small server on 127.0.0.1 answers 2048 boards with random moves, but in turn also drips its reply
one byte at a time, sends a body nested 100,000 levels deep, sends 2 MB, and echoes the request's
headers (your key included) in an error. ``vlmgym.eval.evaluate`` runs against it with a 1 s total
deadline per attempt and a 1 MiB response cap: every query ends as an answer or as a recorded
failed request, the run never crashes, and the key appears in no file. See docs/robustness.md.

    python examples/eval_flaky_endpoint.py [OUT_DIR]
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from vlmgym.eval import EvalConfig, evaluate
from vlmgym.eval.runner import read_jsonl

KEY = "sk-example-key-do-not-leak-0000"
# in turn, one per request; with one retry, each failure is seen twice in a row (except the 2 MB
# reply, which is not retried: a deterministic server would send it again)
BEHAVIOURS = ("answer", "drip", "drip", "deep", "deep", "huge", "echo", "answer")


class FlakyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        behaviour = BEHAVIOURS[FlakyHandler.count % len(BEHAVIOURS)]
        FlakyHandler.count += 1
        answer = {"choices": [{"message": {"content": f"<answer>{random.randrange(4)}</answer>"}}]}
        if behaviour == "echo":  # an error page that repeats what it was sent
            self._send(500, json.dumps({"error": {"message": f"bad request {dict(self.headers)}"}}).encode())
        elif behaviour == "deep":
            self._send(200, b"[" * 100_000 + b"]" * 100_000)
        elif behaviour == "huge":
            self._send(200, json.dumps({"choices": [{"message": {"content": "x" * 2_000_000}}]}).encode())
        elif behaviour == "drip":  # one byte every 0.1 s: a per-read timeout would never fire
            body = json.dumps(answer).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            self.close_connection = True
            try:
                for i in range(len(head + body)):
                    self.wfile.write((head + body)[i:i + 1])
                    time.sleep(0.1)
            except OSError:
                pass  # the client gave up at its deadline
        else:
            self._send(200, json.dumps(answer).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client stopped reading (the 2 MB reply)
            self.wfile.write(body)


def main(out: Path) -> dict[str, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    os.environ["FLAKY_EXAMPLE_KEY"] = KEY
    try:
        evaluate(EvalConfig(
            ["VLMGym/2048-v0"], policy="openai:toy", runs=3, steps=2, env_kwargs={"obs_mode": "text"},
            policy_kwargs={"base_url": f"http://127.0.0.1:{server.server_address[1]}/v1",
                           "api_key_env": "FLAKY_EXAMPLE_KEY", "concurrency": 1, "timeout": 1.0, "retries": 1,
                           "backoff": 0.01, "max_response_bytes": 1 << 20},
            out=str(out), video=False, curves=False, progress=False))
    finally:
        server.shutdown()
        server.server_close()
    records = read_jsonl(out / "steps.jsonl")
    for r in records:
        outcome = r["status"] if r["error"] is None else f"{r['status']}: {r['error'][:90]}"
        print(f"run {r['run']} step {r['step']}: {r['attempts']} attempt(s), {outcome}")
    leaked = [p.name for p in out.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    print("the key is in no file" if not leaked else f"the key leaked into {leaked}")
    assert not leaked
    return Counter(r["status"] for r in records)


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "flaky"
    print(dict(main(folder)), f"results in {folder}")
