"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s types``, ``nox -s benchmarks``."""

from __future__ import annotations

import glob

import nox

nox.options.sessions = ["lint", "types", "tests"]
TORCH = "torch==2.13.0"  # the CPU build; an unpinned torch would pull CUDA packages


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole suite, RL group included (same as the README's test command)."""
    session.install(TORCH, "-e", ".[dev,rl,eval,play]")
    session.run("python", "-m", "pytest", *session.posargs)


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
