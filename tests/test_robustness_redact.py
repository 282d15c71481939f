"""The one redaction function: known secrets and secret-looking text go, the game's own text stays."""

from __future__ import annotations

import base64
import json
import string
import urllib.parse

import gymnasium as gym
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vlmgym  # noqa: F401
import vlmgym.eval.redaction as redact_module
from vlmgym.eval.redaction import REDACTED, add_secret, is_secret_name, redact, redact_text


@pytest.fixture(autouse=True)
def _forget_test_secrets(monkeypatch):
    """The registry is process-wide: the random secrets of these tests must not outlive them."""
    monkeypatch.setattr(redact_module, "_known", redact_module._known)

_token = st.text(string.ascii_letters + string.digits + "-_.~+/=", min_size=8, max_size=40)
_noise = st.text(max_size=30)


@given(secret=_token, before=_noise, after=_noise)
def test_a_registered_secret_never_survives(secret, before, after):
    add_secret(secret)
    for text in (before + secret + after, f"{before}'Authorization': 'Bearer {secret}'{after}",
                 json.dumps({"echo": before + secret + after})):
        assert secret not in redact_text(text)


@given(secret=_token, name=st.sampled_from(["api_key", "apiKey", "x-api-key", "token", "hf_token",
                                            "client_secret", "password", "access_token", "Api-Key"]))
def test_unknown_secrets_in_key_like_fields_and_headers_are_redacted(secret, name):
    texts = [f"{name}={secret}", f'"{name}": "{secret}"', f"{name}: {secret}", f"'{name}': '{secret}'",
             f"Authorization: Bearer {secret}", f"authorization: Basic {secret}",
             json.dumps({"body": json.dumps({name: secret})})]
    for text in texts:
        assert secret not in redact_text(text), text
    encoded = urllib.parse.quote(secret, safe="")  # as it appears in a URL
    assert encoded not in redact_text(f"see http://user:{encoded}@host:8000/v1 now")
    assert redact({name: secret, "nested": [{name: secret}]}) == {name: REDACTED, "nested": [{name: REDACTED}]}


def test_names_that_only_mention_keys_are_kept():
    kept = {"api_key_env": "OPENAI_API_KEY", "max_tokens": 64, "prompt_tokens": 3, "top_k": 5,
            "cifar10_path": "/data/cifar-10-binary.tar.gz", "authentication": "bearer"}
    assert redact(kept) == kept
    assert all(not is_secret_name(k) for k in kept)
    assert redact({"api_key": None, "token": ""}) == {"api_key": None, "token": ""}  # nothing to hide


def test_redaction_is_idempotent_and_keeps_the_marker_whole():
    text = "Authorization: Bearer abcdefgh12345678 and api_key=zzzz9999 at http://u:pw123456@h/v1"
    once = redact_text(text)
    assert once == redact_text(once)
    assert once == (f"Authorization: Bearer {REDACTED} and api_key={REDACTED} at http://{REDACTED}@h/v1")


_answers = st.one_of(
    st.builds(lambda a, b, c, d: f"<answer>({a}, {b}) ({c}, {d})</answer>", *[st.integers(0, 15)] * 4),
    st.sampled_from(["<answer>0</answer>", "<answer>left</answer>", "<think>merge the 4s</think>"]),
)


@given(env_id=st.sampled_from(["VLMGym/2048-v0", "VLMGym/Shisensho-v0", "VLMGym/Swap-v0"]),
       seed=st.integers(0, 2**16), answer=_answers)
def test_game_text_is_never_redacted(env_id, seed, answer):
    # board text, prompts and well-formed answers hold no secret: stored as they are
    env = gym.make(env_id, obs_mode="text")
    _, info = env.reset(seed=seed)
    response = f"<perception>\n{info['board_text']}\n</perception><think>ok</think>{answer}"
    for text in (info["board_text"], info["prompt"], response):
        assert redact_text(text) == text
    env.close()


def test_basic_credentials_are_registered_by_the_client():
    from vlmgym.eval.openai_client import ChatClient

    ChatClient("http://bob:short-pw-31@127.0.0.1:9/v1")
    token = base64.b64encode(b"bob:short-pw-31").decode()
    assert redact_text(f"echo {token} and short-pw-31") == f"echo {REDACTED} and {REDACTED}"
