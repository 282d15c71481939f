"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s types``, ``nox -s benchmarks``,
and ``nox -s core`` (the core suite, without the rl extra, on every supported Python).

``nox -s core`` needs the interpreters on ``PATH`` (with pyenv: ``pyenv shell 3.10 3.11 3.12 3.13``
or ``PATH=$(pyenv root)/versions/3.10.13/bin:...``); ``nox -s core-3.10`` runs one of them.
"""

from __future__ import annotations

import glob

import nox

nox.options.sessions = ["lint", "types", "tests"]
TORCH = "torch==2.13.0"  # the CPU build; an unpinned torch would pull CUDA packages
#: The supported Pythons: requires-python and the classifiers in pyproject.toml list exactly these
#: (tests/test_packaging.py checks it), and `nox -s core` runs the core suite on each.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole suite, RL group included (same as the README's test command)."""
    session.install(TORCH, "-e", ".[dev,rl,eval,play]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS)
def core(session: nox.Session) -> None:
    """The core suite without the rl extra (gymnasium, numpy, pillow + the eval/play extras): what
    `pip install vlmgym` users get, on the oldest to the newest supported Python."""
    session.install("-e", ".[dev,eval,play]")
    session.run("python", "-m", "pytest", "tests", "--ignore=tests/rl", *session.posargs,
                env={"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"})


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session(python="3.11")
def types(session: nox.Session) -> None:
    session.install(TORCH, "-e", ".[rl,eval]", "mypy>=1.10")  # typed against the real trl/transformers
    session.run("mypy", "src")


@nox.session(python="3.11")
def benchmarks(session: nox.Session) -> None:
    """Run every benchmark; each prints a Markdown table of ratios measured side by side."""
    session.install(TORCH, "-e", ".[rl,eval]")
    for script in sorted(glob.glob("benchmarks/bench_*.py")):
        session.run("python", script)
