"""How the command lines end when the reader of their output goes away (``vlmgym list | head``).

Python ignores ``SIGPIPE``, so writing to a closed pipe raises ``BrokenPipeError``, and Python's
final flush of ``sys.stdout`` at exit raises it again. A Unix tool just stops, with the exit status
of a process ended by ``SIGPIPE`` (128 + 13); :func:`run_quietly` does the same for a ``main``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

__all__ = ["EXIT_BROKEN_PIPE", "run_quietly"]

#: The exit status of a process ended by SIGPIPE in a shell (what ``yes | head -1`` leaves for ``yes``).
EXIT_BROKEN_PIPE = 128 + int(getattr(signal, "SIGPIPE", 13))


def run_quietly(main: Callable[[], int]) -> int:
    """Run ``main`` (returning an exit status); a closed stdout ends it quietly with :data:`EXIT_BROKEN_PIPE`."""
    try:
        try:
            return main()
        finally:  # also after SystemExit (argparse's --help): a pipe closed after the last write fails here
            sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout once more at exit: point it at devnull so that flush cannot fail
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # no real file descriptor (stdout replaced in-process)
            pass
        return EXIT_BROKEN_PIPE
