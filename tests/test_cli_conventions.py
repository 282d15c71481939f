"""Command-line conventions: --version, python -m, plain-text --help, eval options generated from
EvalConfig (one source of truth for defaults), vlmgym-rl without the rl extra, and `vlmgym play` on a
machine without a display. The console scripts run for real, in subprocesses."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vlmgym
import vlmgym_rl
from vlmgym.cli import _NOT_OPTIONS, _OPENAI_OPTIONS, build_parser, eval_config_from_args
from vlmgym.eval import EvalConfig, GenerationConfig

BIN = Path(sys.executable).parent  # the console scripts of this environment
MARKUP = re.compile(r"``|:[a-z]+:`|`~")  # reST literals, Sphinx roles (:class:`x`), `~a.b` refs
RL_MODULES = ("torch", "transformers", "trl", "datasets", "accelerate", "peft")


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command; ``timeout`` bounds it so a hang fails the test instead of stalling the suite."""
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)


def _script(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"console script {name} is not installed in {BIN} (pip install -e .)"
    return str(path)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# -- --version and python -m ------------------------------------------------------------------
def test_version_of_both_commands_and_packages_is_the_one_version():
    version = vlmgym.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version)
    assert vlmgym_rl.__version__ == version
    out = _run([_script("vlmgym"), "--version"])
    assert out.returncode == 0 and out.stdout.strip() == f"vlmgym {version}"
    out = _run([_script("vlmgym-rl"), "--version"])
    assert out.returncode == 0 and out.stdout.startswith(f"vlmgym-rl {version} (trl ")


def test_python_dash_m_runs_both_command_lines():
    out = _run([sys.executable, "-m", "vlmgym", "list"])
    assert out.returncode == 0 and "VLMGym/2048-v0" in out.stdout
    out = _run([sys.executable, "-m", "vlmgym", "--help"])
    assert out.returncode == 0 and out.stdout.startswith("usage: vlmgym ")
    out = _run([sys.executable, "-m", "vlmgym_rl", "--help"])
    assert out.returncode == 0 and "vlmgym-rl <command>" in out.stdout
    out = _run([sys.executable, "-m", "vlmgym_rl", "nope"])
    assert out.returncode == 2 and "Commands:" in out.stderr


# -- help is plain text -----------------------------------------------------------------------
def test_vlmgym_help_of_every_subcommand_is_plain_text():
    parser = build_parser()
    helps = {"vlmgym": parser.format_help()}
    helps |= {f"vlmgym {name}": sub.format_help() for name, sub in _subparsers(parser).items()}
    assert {"vlmgym eval", "vlmgym play", "vlmgym bench", "vlmgym list", "vlmgym rollout"} <= set(helps)
    for command, text in helps.items():
        assert not MARKUP.findall(text), f"`{command} --help` shows reST markup: {MARKUP.findall(text)}"


@pytest.mark.parametrize("command", ["--help", "states", "coldstart", "report"])
def test_vlmgym_rl_help_is_plain_text(command, capsys):
    """The argparse subcommands (g0/g1/sft need transformers: tests/rl/test_rl_cli_help.py)."""
    from vlmgym_rl.cli import main

    if command == "--help":
        assert main(["--help"]) == 0
    else:
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage" in text.lower() or "Commands:" in text
    assert not MARKUP.findall(text), MARKUP.findall(text)


def test_plain_text_drops_rest_markup():
    from vlmgym.cli_options import plain_text

    assert plain_text("see :func:`~vlmgym.eval.policies.make_policy` and ``obs_mode``") == \
        "see make_policy and obs_mode"
    assert plain_text(":class:`GenerationConfig` fields, :meth:`a.b.c`, :py:class:`text <a.B>`") == \
        "GenerationConfig fields, a.b.c, text"


# -- vlmgym eval: options generated from EvalConfig --------------------------------------------
def _eval_parser() -> argparse.ArgumentParser:
    return _subparsers(build_parser())["eval"]


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}


@pytest.mark.parametrize("cls,skip", [(EvalConfig, _NOT_OPTIONS), (GenerationConfig, ())])
def test_every_config_field_is_an_option_with_its_documented_default(cls, skip):
    from vlmgym.cli_options import field_docs, option_name

    options = _options(_eval_parser())
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        assert f.name in docs, f"{cls.__name__}.{f.name} is not documented in its docstring"
        if f.name in skip:
            continue
        action = options.get(f.name)
        assert action is not None, f"{cls.__name__}.{f.name} has no `vlmgym eval` option"
        assert docs[f.name].rstrip(".") in action.help
        if isinstance(f.default, bool):
            flag = option_name(f.name) if not f.default else "--no-" + f.name.replace("_", "-")
            assert action.option_strings == [flag] and action.const is (not f.default)
        else:
            assert action.option_strings == [option_name(f.name)]
            if f.default is not None:
                assert action.help.endswith(f"(default {f.default})"), action.help


def test_every_eval_option_is_a_config_field_and_vice_versa():
    fields = {f.name for f in dataclasses.fields(EvalConfig)} - set(_NOT_OPTIONS)
    fields |= {f.name for f in dataclasses.fields(GenerationConfig)}
    extra = {"policy_arg", *_OPENAI_OPTIONS}  # -> EvalConfig.policy_kwargs
    extra.add("imports")  # --import MODULE: registers user ids before the config is built
    assert set(_options(_eval_parser())) == fields | extra


def test_eval_defaults_come_from_the_dataclasses():
    args = build_parser().parse_args(["eval", "VLMGym/2048-v0"])
    assert eval_config_from_args(args) == EvalConfig(["VLMGym/2048-v0"])
    args = build_parser().parse_args(["eval", "VLMGym/2048-v0", "--policy", "openai:m"])
    assert eval_config_from_args(args).generation == vars(GenerationConfig())


def test_every_eval_option_reaches_its_field():
    argv = ["eval", "VLMGym/2048-v0", "size=5", "--policy", "openai:m", "--runs", "3", "--steps", "7",
            "--protocol", "custom", "--warmup-steps", "2", "--seed", "11", "--out", "somewhere", "--no-video",
            "--no-curves", "--no-progress", "--temperature", "0.5", "--max-tokens", "9", "--top-p", "0.9",
            "--system-prompt", "be brief", "--policy-arg", "extra_body={}", "--concurrency", "2"]
    config = eval_config_from_args(build_parser().parse_args(argv))
    assert config == EvalConfig(
        ["VLMGym/2048-v0"], policy="openai:m", runs=3, steps=7, protocol="custom", warmup_steps=2, seed=11,
        env_kwargs={"size": 5}, policy_kwargs={"extra_body": {}, "concurrency": 2},
        generation={"temperature": 0.5, "max_tokens": 9, "top_p": 0.9, "system_prompt": "be brief"},
        out="somewhere", resume=False, video=False, curves=False, progress=False)
    with pytest.raises(SystemExit):  # choices and types are enforced by argparse
        build_parser().parse_args(["eval", "VLMGym/2048-v0", "--protocol", "nope"])


def test_generated_options_reject_undocumented_or_unsupported_fields():
    from vlmgym.cli_options import add_field_options

    @dataclasses.dataclass
    class Undocumented:
        """No attributes section."""

        x: int = 1

    @dataclasses.dataclass
    class Unsupported:
        """Doc.

        Attributes:
            x: a list.
        """

        x: list = dataclasses.field(default_factory=list)

    with pytest.raises(ValueError, match="Attributes"):
        add_field_options(argparse.ArgumentParser(), Undocumented)
    with pytest.raises(TypeError, match="no command-line option"):
        add_field_options(argparse.ArgumentParser(), Unsupported)


# -- vlmgym-rl without the rl extra -------------------------------------------------------------
BLOCKER = textwrap.dedent(f"""
    # Makes the rl extra's packages unimportable, as on an install without vlmgym[rl].
    import sys
    from importlib.abc import MetaPathFinder

    class _NoRLExtra(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {RL_MODULES!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, _NoRLExtra())
""")


@pytest.fixture
def no_rl_env(tmp_path) -> dict[str, str]:
    """Environment variables under which a fresh interpreter cannot import torch/transformers/trl/..."""
    site = tmp_path / "no_rl_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    for module in RL_MODULES:  # the blocker works (else the test below would prove nothing)
        probe = _run([sys.executable, "-c", f"import {module}"], env=env)
        assert probe.returncode == 1 and "ModuleNotFoundError" in probe.stderr, probe.stderr
    return env


@pytest.mark.parametrize("argv,missing", [
    (["g0", "--env", "VLMGym/2048-v0", "--model", "m", "--output-dir", "out"], "transformers"),
    (["g1", "--help"], "transformers"),
    (["sft", "--model", "m", "--dataset", "d"], "transformers"),
    (["states", "--env", "VLMGym/2048-v0", "-n", "2", "--out", "out"], "datasets"),
    (["coldstart", "--env", "VLMGym/2048-v0", "-n", "2", "--out", "out"], "datasets"),
])
def test_vlmgym_rl_without_the_rl_extra_says_what_to_install(argv, missing, no_rl_env, tmp_path):
    out = subprocess.run([_script("vlmgym-rl"), *argv], capture_output=True, text=True, env=no_rl_env,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert f"vlmgym-rl {argv[0]}: error: needs the rl extra (no module named '{missing}')" in out.stderr
    assert 'pip install "vlmgym[rl]"' in out.stderr
    assert not (tmp_path / "out").exists()


def test_vlmgym_rl_help_and_version_work_without_the_rl_extra(no_rl_env):
    out = _run([_script("vlmgym-rl"), "--help"], env=no_rl_env)
    assert out.returncode == 0 and "Commands:" in out.stdout and 'pip install "vlmgym[rl]"' in out.stdout
    out = _run([_script("vlmgym-rl"), "--version"], env=no_rl_env)
    assert out.returncode == 0 and out.stdout.startswith(f"vlmgym-rl {vlmgym.__version__} ")


def test_other_missing_modules_keep_their_traceback(monkeypatch):
    """Only the rl extra's modules are reported as a missing extra; anything else is a bug to show."""
    from vlmgym_rl import cli

    def broken(argv):
        raise ModuleNotFoundError("No module named 'vlmgym_no_such_module'", name="vlmgym_no_such_module")

    def needs_trl(argv):
        raise ModuleNotFoundError("No module named 'trl.trainer'", name="trl.trainer")

    monkeypatch.setitem(cli._COMMANDS, "states", broken)
    with pytest.raises(ModuleNotFoundError, match="vlmgym_no_such_module"):
        cli.main(["states"])
    monkeypatch.setitem(cli._COMMANDS, "states", needs_trl)
    assert cli.main(["states"]) == 2


# -- vlmgym play without a display ----------------------------------------------------------------
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SDL's display drivers differ off Linux")
@pytest.mark.parametrize("driver", [None, "dummy", "offscreen"])
def test_play_without_a_display_exits_at_once_with_the_message(driver):
    """The real `vlmgym play` with no display variables: pygame-ce would fall back to its offscreen
    driver and wait forever for keys; it must exit with status 2 and say why instead."""
    pytest.importorskip("pygame")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "SDL_VIDEODRIVER")}
    if driver:
        env["SDL_VIDEODRIVER"] = driver
    out = _run([_script("vlmgym"), "play", "VLMGym/2048-v0"], env=env, timeout=60)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "vlmgym play: error: cannot open a window (" in out.stderr
    assert "`vlmgym play` needs a display; on a headless machine use `vlmgym eval`" in out.stderr
    if driver:
        assert f"SDL_VIDEODRIVER={driver} selects SDL's headless {driver!r} video driver: unset it" in out.stderr
    else:
        assert "DISPLAY and WAYLAND_DISPLAY not set" in out.stderr and "fell back" in out.stderr


def test_play_runs_on_a_headless_driver_only_when_bounded(monkeypatch):
    pygame = pytest.importorskip("pygame")
    from vlmgym.play import play

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame.display.quit()
    assert play("VLMGym/2048-v0", seed=0, max_frames=2) == 0  # a bounded loop (tests) may run unseen
    with pytest.raises(RuntimeError, match="needs a display"):
        play("VLMGym/2048-v0", seed=0)
