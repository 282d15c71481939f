"""``vlmgym.testing.check_game`` passes a correct game and catches each kind of broken one.

The broken games are the documented Lights Out example with one thing wrong each; every check
that matters must notice it (a check that cannot fail would be worthless).
"""

from __future__ import annotations

import numpy as np
import pytest

import vlmgym
from example_games import lights_out
from vlmgym.core.actions import CellCodec
from vlmgym.testing import CHECKS, GameCheckError, check_game

LightsOut = lights_out().LightsOut


def test_the_example_game_passes_every_check_by_id_and_as_an_instance():
    check_game("Example/LightsOut-v0")
    check_game(LightsOut(rows=3, cols=4, scramble=2))
    check_game(LightsOut, checks=["codec", "tools"])  # a class is built with its defaults


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown checks"):
        check_game("Example/LightsOut-v0", checks=["nope"])
    with pytest.raises(ValueError, match="unknown env id"):
        check_game("Example/Nope-v0")
    with pytest.raises(TypeError, match="env id, a Game"):
        check_game(42)  # type: ignore[arg-type]
    assert len(CHECKS) == len(set(CHECKS)) >= 18


# -- one broken game per check -------------------------------------------------------------------
@vlmgym.register_game("test-lying-mask")
class LyingMask(LightsOut):
    """Refuses presses on row 0 but its mask says every press is legal."""

    def apply(self, batch, actions, active):
        return super().apply(batch, actions, active & (actions[:, 0] != 0))


@vlmgym.register_game("test-stuck")
class Stuck(LightsOut):
    """Says no press is legal, yet the game is not over."""

    def legal_mask(self, batch):
        return np.zeros((len(batch["lights"]), self.num_actions), dtype=bool)


class _SwappedCodec(CellCodec):
    def format(self, action):
        r, c = action
        return f"({c}, {r})"


@vlmgym.register_game("test-bad-codec")
class BadCodec(LightsOut):
    """Writes answers as (column, row): they do not parse back to the same action."""

    codec = _SwappedCodec(tool_names=("press",))


class _WrongToolCodec(CellCodec):
    def tool_call(self, action):
        r, c = action
        return "press", {"row": c, "col": r}


@vlmgym.register_game("test-bad-tool")
class BadTool(LightsOut):
    codec = _WrongToolCodec(tool_names=("press",))


@vlmgym.register_game("test-counting-text")
class CountingText(LightsOut):
    """Shows the step counter in its board text and picture: a move that changes nothing changes them."""

    def board_text(self, batch, i):
        return f"{super().board_text(batch, i)}\nsteps {int(batch['steps'][i])}"

    def text_max_length(self):
        return 1000

    def sprites(self, cell_px):
        atlas = super().sprites(cell_px)
        return np.concatenate([atlas, 255 - atlas])

    def sprite_ids(self, batch):
        return super().sprite_ids(batch) + 2 * (batch["steps"][:, None, None] % 2).astype(np.uint8)


@vlmgym.register_game("test-global-random")
class GlobalRandom(LightsOut):
    """Deals from NumPy's global generator instead of the env's stream."""

    def deal(self, batch):
        super().deal(batch)
        flip = np.random.default_rng().integers(0, self.num_actions, size=len(batch["lights"]))
        self._press(batch["lights"], np.arange(len(flip)), flip // self.cols, flip % self.cols)


@vlmgym.register_game("test-batch-dependent")
class BatchDependent(LightsOut):
    """Deals every env of a batch from the first env's stream: a vector env deals other boards."""

    def deal(self, batch):
        batch["rng"][:] = batch["rng"][0]
        super().deal(batch)


@vlmgym.register_game("test-hidden-counter")
class HiddenCounter(LightsOut):
    """Keeps a counter outside the state: the same state and answer score differently."""

    calls = 0

    def apply(self, batch, actions, active):
        type(self).calls += 1
        return super().apply(batch, actions, active & (type(self).calls % 2 == 0))


@vlmgym.register_game("test-bad-solver")
class BadSolver(LightsOut):
    """Its solver answers presses off the board."""

    def solve(self, batch):
        return np.full(len(batch["lights"]), self.num_actions + 5)


@vlmgym.register_game("test-overflowing")
class Overflowing(LightsOut):
    """Counts presses in a field it refuses above 200, but lets a press at 200 go on to 201."""

    @classmethod
    def state_fields(cls, rules):
        return {**super().state_fields(rules), "presses": ((), np.dtype(np.uint8))}

    @classmethod
    def check_values(cls, rules, arrays):
        if int(arrays["presses"]) > 200:
            raise ValueError("more than 200 presses")

    def apply(self, batch, actions, active):
        out = super().apply(batch, actions, active)
        batch["presses"] += out.legal
        return out


@vlmgym.register_game("test-set-rules")
class SetRules(LightsOut):
    def __init__(self):
        super().__init__()
        self.rules = {**self.rules, "extra": {1, 2}}  # a set is not JSON data


@pytest.mark.parametrize("game, check", [
    (LyingMask, "legal_masks"),
    (Stuck, "legal_masks"),
    (BadCodec, "codec"),
    (BadTool, "tools"),
    (CountingText, "board_text"),
    (CountingText, "frames"),
    (GlobalRandom, "determinism"),
    (GlobalRandom, "check_env"),
    (BatchDependent, "vector_matches_single"),
    (HiddenCounter, "score"),
    (BadSolver, "oracle"),
    (SetRules, "rules"),
    (Overflowing, "successors"),
])
def test_each_check_catches_its_kind_of_broken_game(game, check):
    with pytest.raises(GameCheckError, match=rf"check_game\({game.__name__} .*check '{check}'"):
        check_game(game(), checks=[check])


def test_a_game_without_a_codec_is_refused_with_what_to_do():
    class NoCodec(LightsOut):
        codec = None

    with pytest.raises(TypeError, match="must declare its action codec"):
        vlmgym.VLMGymEnv(NoCodec())
    with pytest.raises(GameCheckError, match="must declare its action codec"):
        check_game(NoCodec(), checks=["snapshots"])


@vlmgym.register_game("test-ends-on-a-press")
class EndsOnAPress(LightsOut):
    """Correct, but every legal press ends the game (as a Minesweeper reveal may): the autoreset
    check's legal move at the step budget terminates instead of truncating."""

    @classmethod
    def state_fields(cls, rules):
        return {**super().state_fields(rules), "pressed": ((), np.dtype(bool))}

    def deal(self, batch):
        super().deal(batch)
        batch["pressed"][:] = False

    def apply(self, batch, actions, active):
        out = super().apply(batch, actions, active)
        batch["pressed"] |= out.legal
        return out

    def is_over(self, batch):
        over = batch["pressed"] | super().is_over(batch)[0]
        return over, np.where(over, "pressed", None).astype(object)


def test_a_legal_move_that_ends_the_game_passes_the_autoreset_check():
    check_game(EndsOnAPress(), checks=["autoreset"])
