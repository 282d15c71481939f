"""``vlmgym eval`` against a hostile endpoint: malformed replies are failed requests, long answers
are stored cut, nothing secret reaches a file or the terminal, and one output folder has one
writer at a time (two real processes)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_robustness_endpoints import HOSTILE_BODIES
from vlmgym.cli import main
from vlmgym.eval.runner import STEP_FIELDS, read_jsonl

KEY = "sk-echo-test-key-0123456789"
EXTRA = "extra-body-secret-4242"
PASSWORD = "url-pass-5678"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


def _args(url: str, out: Path, *extra: str, runs: int = 2, steps: int = 2) -> list[str]:
    return ["eval", "VLMGym/2048-v0", "obs_mode=text", "--policy", "openai:m", "--base-url", url,
            "--api-key-env", "ECHO_TEST_KEY", "--runs", str(runs), "--steps", str(steps), "--retries", "2",
            "--concurrency", "2", "--policy-arg", "backoff=0.001", "--out", str(out), "--no-video",
            "--no-curves", "--no-progress", *extra]


def _assert_nothing_leaks(out: Path, printed: str, secrets: list[str]) -> None:
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"config.json", "steps.jsonl", "checkpoints.jsonl"}
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret} in {path.name}"
    for secret in secrets:
        assert secret not in printed, f"{secret} printed"


@pytest.mark.parametrize("auth", ["bearer", "url-credentials"])
def test_secrets_echoed_by_the_server_are_redacted_everywhere(server, tmp_path, monkeypatch, capsys, auth):
    url = server.url
    if auth == "bearer":
        monkeypatch.setenv("ECHO_TEST_KEY", KEY)
        secrets = [KEY, EXTRA]
    else:
        monkeypatch.delenv("ECHO_TEST_KEY", raising=False)
        url = url.replace("http://", f"http://alice:{PASSWORD}@")
        secrets = [PASSWORD, BASIC, EXTRA]
    # errors (retried and not) and answers that repeat the request's headers and body
    server.script.extend([("echo", 500), ("echo", 400), *[("echo", 200)] * 8])
    out = tmp_path / "ev"
    extra_body = json.dumps({"api_key": EXTRA, "top_k": 5})
    assert main(_args(url, out, "--policy-arg", f"extra_body={extra_body}")) == 0
    printed = "".join(capsys.readouterr())
    # the server really saw (and echoed) every secret
    sent = json.dumps(server.headers) + json.dumps(server.requests)
    assert EXTRA in sent and (KEY in sent if auth == "bearer" else BASIC in sent)
    records = read_jsonl(out / "steps.jsonl")
    failed = [r for r in records if r["status"] == "request_failed"]
    assert len(failed) == 1 and "HTTP 400: you sent headers" in failed[0]["error"]
    answered = [r for r in records if r["answer"] is not None]
    assert answered and all("you sent headers" in r["answer"] and "<redacted>" in r["answer"] for r in answered)
    config = json.loads((out / "config.json").read_text())
    assert config["policy"]["extra_body"] == {"api_key": "<redacted>", "top_k": 5}
    assert config["policy"]["base_url"] == server.url
    _assert_nothing_leaks(out, printed, secrets)


def test_a_failed_step_prints_no_secret(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ECHO_TEST_KEY", KEY)
    server.script.extend([("echo", 401)] * 2)
    out = tmp_path / "ev"
    assert main(_args(server.url, out)) == 3
    printed = "".join(capsys.readouterr())
    assert "every request of step 1 failed (first error: HTTP 401: you sent headers" in printed
    assert "Bearer <redacted>" in printed
    _assert_nothing_leaks(out, printed, [KEY])


def test_malformed_replies_end_as_failed_requests_not_a_crash(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_TEST_KEY", KEY)
    # one request at a time: run 0 and run 1 of step 1 get three hostile bodies each (every attempt)
    bodies = [HOSTILE_BODIES[k] for k in ("deeply nested", "text part not a string", "content a number")]
    server.script.extend([("raw", 200, b) for _ in range(2) for b in bodies])
    out = tmp_path / "ev"
    assert main(_args(server.url, out, "--concurrency", "1", runs=3, steps=2)) == 0
    records = read_jsonl(out / "steps.jsonl")
    failed = [r for r in records if r["status"] == "request_failed"]
    assert len(failed) == 2 and all("malformed reply" in r["error"] and r["attempts"] == 3 for r in failed)
    assert len(records) == 6 and all(tuple(r) == STEP_FIELDS for r in records)


def test_long_answers_are_stored_cut_but_scored_whole(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_TEST_KEY", KEY)
    long = "<think>" + "z" * 200_000 + "</think><answer>left</answer>"
    server.script.extend([("ok", long)] * 2)
    out = tmp_path / "ev"
    assert main(_args(server.url, out, "--max-answer-chars", "1000", runs=1, steps=2)) == 0
    records = read_jsonl(out / "steps.jsonl")
    for r in records:
        assert r["answer_cut"] == len(long) - 1000
        assert len(r["answer"]) < 1100 and r["answer"].endswith("<answer>left</answer>")
        assert f"[... vlmgym: {len(long) - 1000} characters cut ...]" in r["answer"]
        assert r["action"] == 3 and r["status"] in ("ok", "illegal")  # parsed from the whole text


SLOW_POLICY = '''
import os, time

def policy(queries):
    if os.environ.get("VLMGYM_TEST_SLOW"):
        time.sleep(0.2)
    return ["<answer>0</answer>" for _ in queries]
'''


def test_one_writer_per_output_folder_and_a_killed_one_does_not_block_resume(tmp_path, capsys):
    policy = tmp_path / "slow_policy.py"
    policy.write_text(SLOW_POLICY)
    out = tmp_path / "ev"
    args = ["eval", "VLMGym/2048-v0", "obs_mode=text", "--policy", f"{policy}:policy", "--runs", "2",
            "--steps", "40", "--out", str(out), "--no-video", "--no-curves", "--no-progress"]
    env = {**os.environ, "VLMGYM_TEST_SLOW": "1"}
    first = subprocess.Popen([sys.executable, "-m", "vlmgym.cli", *args], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(read_jsonl(out / "checkpoints.jsonl")) < 3:  # the first process is playing
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            assert time.monotonic() < deadline, "the first evaluation did not start"
            time.sleep(0.05)
        # a second process (this one) may neither resume nor start over in the same folder
        assert main(["eval", "--resume", "--out", str(out), "--no-video", "--no-curves", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"is being written by another vlmgym eval (pid {first.pid} " in err
        assert main(args) == 2
        assert "is being written by another vlmgym eval" in capsys.readouterr().err
    finally:
        first.kill()  # SIGKILL: the lock file stays, the kernel drops the lock
        first.wait()
    assert (out / ".lock").exists()
    assert main(["eval", "--resume", "--out", str(out), "--no-video", "--no-curves", "--no-progress"]) == 0
    records = read_jsonl(out / "steps.jsonl")
    assert sorted((r["run"], r["step"]) for r in records) == [(r, s) for r in range(2) for s in range(1, 41)]


def test_bad_data_files_are_bad_input_on_the_command_line(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    truncated = tmp_path / "cifar-10-binary.tar.gz"
    from fake_cifar import write_archive

    archive, _ = write_archive(tmp_path / "src", per_class=4)
    truncated.write_bytes(archive.read_bytes()[:5000])
    for path, message in ((missing, "no CIFAR-10 data at"), (truncated, "is truncated")):
        code = main(["eval", "VLMGym/ShisenshoCifar10-v0", f"cifar10_path={path}", "--runs", "1", "--steps", "1",
                     "--out", str(tmp_path / f"ev-{path.name}"), "--no-video", "--no-curves", "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and str(path) in err and "Traceback" not in err


def test_the_flaky_endpoint_example_runs(tmp_path, capsys):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "examples" / "eval_flaky_endpoint.py"
    spec = importlib.util.spec_from_file_location("eval_flaky_endpoint", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = module.main(tmp_path / "flaky")
    assert counts["request_failed"] == 3 and sum(counts.values()) == 6
    printed = capsys.readouterr().out
    for what in ("timeout: no complete response within 1 s", "malformed reply", "response cut", "the key is in no file"):
        assert what in printed
