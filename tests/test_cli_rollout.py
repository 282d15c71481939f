"""The README's main job before evaluation existed: `vlmgym rollout` writes board images."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from vlmgym.cli import main


def test_rollout_writes_images_and_board_text(tmp_path, capsys):
    assert main(["rollout", "VLMGym/2048-v0", "--steps", "5", "--out", str(tmp_path)]) == 0
    images = sorted(tmp_path.glob("step_*.png"))
    assert len(images) == 6
    assert Image.open(images[-1]).size == (224, 252)
    assert len((tmp_path / "board.txt").read_text().splitlines()) == 4
    assert "random legal moves" in capsys.readouterr().out


def test_rollout_bad_kwargs_give_a_clear_error(tmp_path, capsys):
    assert main(["rollout", "VLMGym/2048-v0", "size=9", "--out", str(tmp_path)]) == 2
    assert "3 to 8" in capsys.readouterr().err


def test_console_script_lists_ids():
    out = subprocess.run([sys.executable, "-m", "vlmgym.cli", "list"], capture_output=True, text=True,
                         check=True).stdout
    assert "VLMGym/2048-v0" in out
