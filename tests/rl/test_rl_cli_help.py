"""`vlmgym-rl g0/g1/sft --help` (built by transformers' HfArgumentParser from the config dataclasses)
read as plain text: no reST markup from vlmgym's own field help."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("transformers")

from vlmgym_rl.cli import main  # noqa: E402

pytestmark = pytest.mark.rl
MARKUP = re.compile(r"``|:[a-z]+:`|`~")  # reST literals, Sphinx roles (:class:`x`), `~a.b` refs


@pytest.mark.parametrize("command", ["g0", "g1", "sft"])
def test_training_commands_help_is_plain_text(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: vlmgym-rl {command}")
    assert "--output_dir" in text
    assert not MARKUP.findall(text), MARKUP.findall(text)
