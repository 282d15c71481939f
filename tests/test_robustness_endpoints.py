"""A hostile OpenAI-compatible server is a failed request, never a crash: deadlines, size caps,
malformed replies, proxies and URL credentials, against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_eval_openai import KEY, _body
from vlmgym.eval.openai_client import (
    ChatClient,
    MalformedReply,
    OpenAIPolicy,
    RequestFailed,
    parse_chat_reply,
)
from vlmgym.eval.policies import PolicyError


def _reply(content) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}]}).encode()


# -- one bounded, total parser for every reply --------------------------------------------------------
HOSTILE_BODIES = {
    "deeply nested": b"[" * 200_000 + b"]" * 200_000,
    "nested inside the reply": b'{"choices": [{"message": {"content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}]}",
    "text part not a string": _reply([{"type": "text", "text": 5}]),
    "text part a list": _reply([{"type": "text", "text": ["a", "b"]}]),
    "content part not an object": _reply(["just a string"]),
    "content a number": _reply(12),
    "choices a string": b'{"choices": "none"}',
    "message a list": b'{"choices": [{"message": []}]}',
    "a 5000-digit number": b'{"choices": [{"message": {"content": "x"}}], "usage": {"t": ' + b"9" * 5000 + b"}}",
    "not UTF-8": b'{"choices": [{"message": {"content": "\xff\xfe"}}]}',
    "a JSON string": b'"hello"',
    "error with a nested message": b'{"error": {"message": {"deep": [1, 2, {"x": null}]}}}',
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bodies_are_malformed_replies(name):
    with pytest.raises(MalformedReply):
        parse_chat_reply(HOSTILE_BODIES[name])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["choices", "message", "content", "text", "type", "usage", "error", "finish_reason",
                         "prompt_tokens", "x"]), inner, max_size=4),
    max_leaves=20)


@given(_json)
def test_parser_is_total_on_any_json(value):
    try:
        text, usage, finish = parse_chat_reply(json.dumps(value).encode())
    except MalformedReply:
        return
    assert isinstance(text, str) and (finish is None or isinstance(finish, str))
    assert usage is None or all(type(v) is int and v >= 0 for v in usage.values())


@given(st.binary(max_size=200))
def test_parser_is_total_on_any_bytes(data):
    with contextlib.suppress(MalformedReply):
        parse_chat_reply(data)


@given(content=st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=8)}), max_size=4))
def test_well_formed_content_parts_are_joined(content):
    text, _, finish = parse_chat_reply(_reply(content))
    assert text == "".join(p["text"] for p in content) and finish == "stop"


def test_malformed_replies_are_retried_then_a_failed_request(server):
    server.script.extend([("raw", 200, HOSTILE_BODIES["deeply nested"]),
                          ("raw", 200, HOSTILE_BODIES["text part not a string"]),
                          ("ok", "<answer>2</answer>")])
    client = ChatClient(server.url, KEY, timeout=5, max_retries=2, backoff=0.001)
    result = client.chat(_body())
    assert result.text == "<answer>2</answer>" and result.attempts == 3
    server.script.extend([("raw", 200, HOSTILE_BODIES["nested inside the reply"])] * 2)
    with pytest.raises(RequestFailed, match="failed after 2 attempts: malformed reply") as info:
        ChatClient(server.url, KEY, timeout=5, max_retries=1, backoff=0.001).chat(_body())
    assert info.value.attempts == 2 and len(str(info.value)) < 1000


def test_error_texts_are_printable(server):
    # a server error message with terminal escapes and a lone surrogate: stored and printed safely
    server.script.append(("raw", 400, b'{"error": {"message": "\\u001b[2Jgone \\ud800 \\n done"}}'))
    with pytest.raises(RequestFailed) as info:
        ChatClient(server.url, KEY, timeout=5, max_retries=0).chat(_body())
    message = str(info.value)
    assert message.isprintable() and "\\x1b[2J" in message and "\\ud800" in message
    message.encode("utf-8")  # no lone surrogate left


def test_a_secret_at_the_edge_of_an_error_snippet_is_not_cut_in_half(server):
    server.script.append(("raw", 400, b"x" * 295 + KEY.encode() + b" and more"))
    with pytest.raises(RequestFailed) as info:
        ChatClient(server.url, KEY, timeout=5, max_retries=0).chat(_body())
    assert KEY[:5] not in str(info.value) and "x" * 295 in str(info.value)


# -- a total deadline per attempt ---------------------------------------------------------------------
@pytest.mark.parametrize("phase", ["headers", "body"])
def test_timeout_is_a_total_deadline_against_a_dripping_server(server, phase):
    # one byte every 0.2 s never leaves a read waiting 1 s: only a total deadline ends the request
    server.script.extend([("drip", 0.2, phase)] * 2)
    client = ChatClient(server.url, KEY, timeout=1.0, max_retries=1, backoff=0.001)
    start = time.perf_counter()
    with pytest.raises(RequestFailed, match="timeout: no complete response within 1 s") as info:
        client.chat(_body())
    assert info.value.attempts == 2
    assert time.perf_counter() - start < 20, "the server would drip for more than a minute"
    assert server.dripped < 40  # of the hundreds of bytes it would send


def test_deadline_covers_sending_a_body_nobody_reads():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        client = ChatClient(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", KEY, timeout=0.5, max_retries=0)
        with pytest.raises(RequestFailed, match="timeout"):
            client.chat(b"x" * (64 << 20))  # more than the socket buffers hold: send blocks
    finally:
        for conn, _ in accepted:
            conn.close()
        listener.close()


# -- response size cap ----------------------------------------------------------------------------------
def test_responses_over_the_cap_are_not_read(server):
    big = _reply("y" * 300_000)
    server.script.extend([("raw", 200, big), ("unsized", big), ("ok", "<answer>1</answer>")])
    client = ChatClient(server.url, KEY, timeout=5, max_retries=3, backoff=0.001, max_response_bytes=100_000)
    with pytest.raises(RequestFailed, match=r"response cut: the response declares 300,\d+ bytes, more than "
                                            r"max_response_bytes=100,000") as info:
        client.chat(_body())
    assert info.value.attempts == 1, "a deterministic server would send the same again: not retried"
    with pytest.raises(RequestFailed, match="response cut: the response is longer, more than"):
        client.chat(_body())
    assert client.chat(_body()).text == "<answer>1</answer>", "the connection after a cut one works"
    with pytest.raises(PolicyError, match="max_response_bytes must be an integer >= 1024"):
        ChatClient(server.url, KEY, max_response_bytes=10)


# -- proxies and URL credentials ------------------------------------------------------------------------
def test_http_proxy_is_used_with_its_credentials(server, monkeypatch):
    proxy = server.url.rsplit("/v1", 1)[0].replace("http://", "http://puser:proxy-pass-1234@")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = ChatClient("http://chat.example.invalid:8000/v1", KEY, timeout=5, max_retries=0)
    server.script.append(("ok", "<answer>3</answer>"))
    assert client.chat(_body()).text == "<answer>3</answer>"
    assert server.paths[-1] == "http://chat.example.invalid:8000/v1/chat/completions"  # an absolute target
    headers = server.headers[-1]
    assert headers["Host"] == "chat.example.invalid:8000"
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"puser:proxy-pass-1234").decode()
    assert client.route.describe().startswith("proxy http://127.0.0.1:")


def test_https_goes_through_a_connect_tunnel(server, monkeypatch):
    proxy = server.url.rsplit("/v1", 1)[0].replace("http://", "http://puser:proxy-pass-1234@")
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.delenv("https_proxy", raising=False)
    client = ChatClient("https://chat.example.invalid/v1", KEY, timeout=5, max_retries=0)
    with pytest.raises(RequestFailed, match="connection error: OSError: Tunnel connection failed: 403"):
        client.chat(_body())
    target, headers = server.connects[-1]
    assert target == "chat.example.invalid:443"
    assert headers["Proxy-Authorization"].startswith("Basic ")
    assert KEY not in json.dumps(headers), "the key travels inside the tunnel only"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_bypasses_proxies(server, monkeypatch, host):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("http_proxy", raising=False)
    client = ChatClient(server.url.replace("127.0.0.1", host), KEY, timeout=5, max_retries=0)
    assert client.route.describe() == "direct"
    assert client.chat(_body()).attempts == 1


@pytest.mark.parametrize("no_proxy,bypassed", [
    ("example.org", True), (".example.org", True), ("api.example.org", True), ("other.org", False),
    ("*", True), ("example.org:443", False), ("example.org:80", True), ("10.0.0.0/8", False),
])
def test_no_proxy_rules(monkeypatch, no_proxy, bypassed):
    monkeypatch.setenv("http_proxy", "http://proxy.example.net:3128")
    monkeypatch.setenv("no_proxy", no_proxy)
    route = ChatClient("http://api.example.org/v1", KEY).route
    assert (route.proxy is None) == bypassed


def test_bad_proxy_urls_are_refused(monkeypatch):
    monkeypatch.setenv("https_proxy", "socks5://user:sekret-value@proxy:1080")
    with pytest.raises(PolicyError, match="must be an http:// proxy URL") as info:
        ChatClient("https://api.example.org/v1", KEY)
    assert "sekret-value" not in str(info.value)


def test_base_url_credentials_are_sent_as_basic_auth_and_never_recorded(server, monkeypatch):
    monkeypatch.delenv("UNSET_KEY_VAR", raising=False)
    url = server.url.replace("http://", "http://alice:url-pass-5678@")
    policy = OpenAIPolicy("m", base_url=url, api_key_env="UNSET_KEY_VAR", retries=0)  # no key needed
    try:
        client = policy.client
        server.script.append(("ok", "hi"))
        assert client.chat(_body()).text == "hi"
        assert server.headers[-1]["Authorization"] == "Basic " + base64.b64encode(b"alice:url-pass-5678").decode()
        config = json.dumps(policy.config())
        assert "url-pass-5678" not in config and "alice" not in config
        assert policy.config()["authentication"] == "basic (base_url credentials)"
    finally:
        policy.close()
