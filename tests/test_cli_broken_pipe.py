"""A closed stdout ends both command lines quietly, as Unix tools end (``vlmgym list | head``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vlmgym.cli_pipes import EXIT_BROKEN_PIPE


def _run_into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    # The reader is gone before the command writes anything: its first write (or the final flush)
    # meets a closed pipe, deterministically, however little it prints.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", *args], stdout=write_end, stderr=subprocess.PIPE,
                              timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    finally:
        os.close(write_end)


# argparse's own --help swallows write errors and exits 0; everything else ends as SIGPIPE would
@pytest.mark.parametrize("args, codes", [
    (["vlmgym", "list"], {EXIT_BROKEN_PIPE}), (["vlmgym", "list", "--all"], {EXIT_BROKEN_PIPE}),
    (["vlmgym", "--help"], {0, EXIT_BROKEN_PIPE}), (["vlmgym_rl", "--help"], {EXIT_BROKEN_PIPE}),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_closed_stdout_ends_quietly(args, codes):
    done = _run_into_closed_pipe(args)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and "Exception ignored" not in stderr, stderr
    assert done.returncode in codes and EXIT_BROKEN_PIPE == 141, (done.returncode, stderr)


def test_open_stdout_still_prints_everything():
    done = subprocess.run([sys.executable, "-m", "vlmgym", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "VLMGym/2048-v0" in done.stdout, done.stderr


def test_reader_leaving_after_the_first_line_is_quiet():
    # `vlmgym list --all | head -1`, for real: the reader takes one line and closes its end
    proc = subprocess.Popen([sys.executable, "-m", "vlmgym", "list", "--all"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.strip(), stderr
    assert "Traceback" not in stderr, stderr
    assert proc.returncode in (0, EXIT_BROKEN_PIPE), (proc.returncode, stderr)
