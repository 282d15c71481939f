"""``vlmgym play ENV_ID``: play a game yourself in a pygame window (``pip install 'vlmgym[play]'``).

Controls come from the game's action codec: keys for direction moves (arrow keys or W/A/S/D in
2048), clicks for cells (two tiles to pair or swap them in the tile games, a click again on a
selected tile deselects it; one cell for single-cell moves, the right button for the second verb,
e.g. a flag). P shows the prompt the model gets, T the exact board text, U undoes a move, R starts
a new game, H toggles help, Q or Esc quits.

The window-free logic (:class:`PlaySession`: keys and clicks -> answers, undo, messages) is
separate from the pygame loop (:func:`play`) so it is testable without a display.

No display: when SDL finds no usable display, pygame-ce quietly falls back to its "offscreen"
driver, and a window nobody can see or close would wait for input forever. So an unbounded loop
(``vlmgym play``) refuses to start on a headless driver ("offscreen" or "dummy", whether pygame
fell back to it or ``SDL_VIDEODRIVER`` asked for it) and exits with status 2 and a message; only a
loop bounded by ``max_frames`` (tests) runs on one.
"""

from __future__ import annotations

import textwrap
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import DependencyNotInstalled

from vlmgym.core.layout import BoardLayout

__all__ = ["HEADLESS_DRIVERS", "PlaySession", "cell_at", "import_pygame", "open_display", "play", "run_window"]

_NO_DISPLAY = ("cannot open a window ({}). `vlmgym play` needs a display; on a headless machine use "
               "`vlmgym eval` (videos of every run) or render_mode='rgb_array'")
_HELP_KEYS = "P: prompt   T: board text   U: undo   R: new game   H: help   Q/Esc: quit"
#: SDL video drivers that draw into memory only: a window on them is never seen.
HEADLESS_DRIVERS = ("offscreen", "dummy")


def import_pygame() -> Any:
    """Import pygame or explain how to get it."""
    try:
        import pygame
    except ImportError as exc:
        raise DependencyNotInstalled("`vlmgym play` needs pygame: pip install 'vlmgym[play]'") from exc
    return pygame


def cell_at(x: float, y: float, layout: BoardLayout, scale: float = 1.0) -> tuple[int, int] | None:
    """The board cell ``(row, col)`` under window pixel ``(x, y)`` of a frame shown at ``scale``."""
    return layout.cell_at(x / scale, y / scale)


class PlaySession:
    """One game for a person: turns keys and clicks into answers and keeps the history.

    Args:
        env_id: a registered id; ``**env_kwargs`` are passed to ``gym.make``.
        seed: seed of the first game (``None``: random).
    """

    def __init__(self, env_id: str, seed: int | None = None, **env_kwargs: Any):
        import vlmgym  # noqa: F401  (registers the ids)
        from vlmgym.envs.single import VLMGymEnv

        self.env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
        self.env_id = env_id
        if not isinstance(self.env.unwrapped, VLMGymEnv):
            raise ValueError(f"{env_id} is not a vlmgym environment")
        self.core: VLMGymEnv = self.env.unwrapped
        self.game = self.core.game
        self.codec = self.game.codec
        self.help = f"{self.codec.controls()}   {_HELP_KEYS}"
        _, self.info = self.env.reset(seed=seed)
        self.picked: list[tuple[int, int]] = []
        self.history: list[Any] = []
        self.total_reward = 0.0
        self.moves = 0
        self.over = False
        self.message = self.help

    # -- input -> answer ---------------------------------------------------------------------
    def answer_for_key(self, key_name: str) -> str | None:
        """The answer a key stands for (the codec's keys, e.g. 2048 directions), or ``None``."""
        action = self.codec.key_action(key_name)
        return None if action is None else f"<answer>{self.codec.format(action)}</answer>"

    def click_cell(self, cell: tuple[int, int] | None, button: int = 1) -> str | None:
        """Select a cell; once the game's number of cells is selected, the answer for them."""
        need = self.codec.cells_per_action
        if need == 0:
            self.message = f"this game takes keys: {self.codec.controls()}"
            return None
        if cell is None:
            self.picked.clear()
            return None
        if cell in self.picked:
            self.picked.clear()
            self.message = "selection cleared"
            return None
        self.picked.append(cell)
        if len(self.picked) < need:
            self.message = f"selected {cell}; click {need - len(self.picked)} more"
            return None
        action = self.codec.click_action(list(self.picked), button)
        self.picked.clear()
        return None if action is None else f"<answer>{self.codec.format(action)}</answer>"

    @property
    def selected(self) -> tuple[int, int] | None:
        """The first selected cell while a move is being entered, else ``None``."""
        return self.picked[0] if self.picked else None

    def click(self, x: float, y: float, scale: float = 1.0, button: int = 1) -> str | None:
        """A mouse click at window pixel ``(x, y)`` (see :meth:`click_cell`)."""
        return self.click_cell(cell_at(x, y, self.core.layout, scale), button)

    # -- game ------------------------------------------------------------------------------
    def play(self, answer: str) -> dict[str, Any]:
        """Apply an answer; return the step's info. A finished game waits for R (new game)."""
        if self.over:
            self.message = "game over: press R for a new game or U to undo"
            return self.info
        self.history.append(self.core.get_state())
        _, reward, terminated, truncated, info = self.env.step(answer)
        self.info = info
        self.moves += 1
        self.total_reward += float(reward)
        action = info["action"]
        shown = "unparsable" if action is None else self.codec.describe(action)
        self.message = f"{shown}: {info['action_status']}, reward {reward:+g}, score {info['score']}"
        if info.get("parse_error"):
            self.message += f" ({info['parse_error']})"
        if terminated or truncated:
            self.over = True
            self.message += f". Game over ({info.get('end_reason') or 'time limit'}): R new game, U undo"
        return info

    def undo(self) -> bool:
        """Restore the state before the last move."""
        if not self.history:
            self.message = "nothing to undo"
            return False
        self.core.set_state(self.history.pop())
        self.info = {**self.info, "board_text": self.core.board_text(),
                     "score": int(self.core.get_state()["score"])}
        self.over = False
        self.picked.clear()
        self.moves = max(0, self.moves - 1)
        self.message = "undone"
        return True

    def new_game(self, seed: int | None = None) -> None:
        _, self.info = self.env.reset(seed=seed)
        self.history.clear()
        self.picked.clear()
        self.over = False
        self.total_reward, self.moves = 0.0, 0
        self.message = "new game"

    def frame(self) -> np.ndarray:
        frame = self.core.render()
        assert frame is not None  # render_mode="rgb_array"
        return frame

    @property
    def prompt(self) -> str:
        return self.core.prompt

    def board_text(self) -> str:
        return self.core.board_text()

    def status(self) -> str:
        return f"{self.env_id}  moves {self.moves}  reward {self.total_reward:+g}  score {self.info['score']}"

    def close(self) -> None:
        self.env.close()


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        lines += textwrap.wrap(para, width) or [""]
    return lines


def open_display(pygame: Any, *, bounded: bool = False) -> None:
    """Start pygame's video subsystem, or raise ``RuntimeError`` (the message says why) when no
    window could be seen: SDL failed, or it runs a headless driver and the loop is not ``bounded``."""
    import os

    try:
        pygame.display.init()  # only what the window needs (no audio)
    except pygame.error as exc:
        raise RuntimeError(_NO_DISPLAY.format(exc)) from exc
    driver = pygame.display.get_driver()
    if driver in HEADLESS_DRIVERS and not bounded:
        pygame.display.quit()
        asked = os.environ.get("SDL_VIDEODRIVER")
        if asked:
            why = f"SDL_VIDEODRIVER={asked} selects SDL's headless {driver!r} video driver: unset it"
        else:
            unset = [v for v in ("DISPLAY", "WAYLAND_DISPLAY") if not os.environ.get(v)]
            why = (f"no usable display{' (' + ' and '.join(unset) + ' not set)' if unset else ''}: "
                   f"pygame fell back to SDL's headless {driver!r} video driver")
        raise RuntimeError(_NO_DISPLAY.format(why))


def play(env_id: str, seed: int | None = None, scale: float = 1.0, *, max_frames: int | None = None,
         **env_kwargs: Any) -> int:
    """Open the window and play until the player quits (``max_frames`` bounds the loop for tests)."""
    # clear messages before anything else when pygame or a display is missing
    open_display(import_pygame(), bounded=max_frames is not None)
    session = PlaySession(env_id, seed=seed, **env_kwargs)
    try:
        run_window(session, scale=scale, max_frames=max_frames)
    finally:
        session.close()
    return 0


def run_window(session: PlaySession, scale: float = 1.0, max_frames: int | None = None) -> None:
    """The pygame loop over a :class:`PlaySession` (events already queued are handled too)."""
    pygame = import_pygame()
    open_display(pygame, bounded=max_frames is not None)
    pygame.font.init()
    try:
        board = session.frame()
        bw, bh = int(board.shape[1] * scale), int(board.shape[0] * scale)
        width = max(bw, 640)
        panel = 150
        try:
            screen = pygame.display.set_mode((width, bh + panel))
        except pygame.error as exc:
            raise RuntimeError(_NO_DISPLAY.format(exc)) from exc
        pygame.display.set_caption(f"vlmgym play {session.env_id}")
        font = pygame.font.Font(None, 20)
        mono = pygame.font.Font(None, 18)
        overlay: str | None = None
        clock = pygame.time.Clock()
        frames = 0
        running = True
        x0 = (width - bw) // 2
        while running:
            for event in pygame.event.get():
                answer = None
                if event.type == pygame.QUIT:
                    running = False
                elif event.type == pygame.KEYDOWN:
                    name = pygame.key.name(event.key)
                    if name in ("q", "escape"):
                        running = False
                    elif name == "p":
                        overlay = None if overlay == "prompt" else "prompt"
                    elif name == "t":
                        overlay = None if overlay == "board" else "board"
                    elif name == "h":
                        session.message = session.help
                    elif name == "u":
                        session.undo()
                    elif name == "r":
                        session.new_game()
                    else:
                        answer = session.answer_for_key(name)
                elif event.type == pygame.MOUSEBUTTONDOWN and event.button in (1, 3):
                    answer = session.click(event.pos[0] - x0, event.pos[1], scale, event.button)
                if answer is not None:
                    session.play(answer)
            screen.fill((24, 24, 24))
            surf = pygame.surfarray.make_surface(np.ascontiguousarray(session.frame().swapaxes(0, 1)))
            if scale != 1.0:
                surf = pygame.transform.smoothscale(surf, (bw, bh))
            screen.blit(surf, (x0, 0))
            layout = session.core.layout
            for sr, sc in session.picked:
                cx0, cy0, cx1, cy1 = layout.cell_box(sr, sc)
                rect = pygame.Rect(x0 + cx0 * scale, cy0 * scale, (cx1 - cx0) * scale, (cy1 - cy0) * scale)
                pygame.draw.rect(screen, (255, 60, 60), rect, 3)
            y = bh + 6
            for line in [session.status()] + _wrap(session.message, width // 8):
                screen.blit(font.render(line, True, (230, 230, 230)), (8, y))
                y += 20
            if overlay is not None:
                text = session.prompt if overlay == "prompt" else session.board_text()
                shade = pygame.Surface((width, bh + panel), pygame.SRCALPHA)
                shade.fill((0, 0, 0, 215))
                screen.blit(shade, (0, 0))
                y = 8
                for line in _wrap(text, width // 7):
                    screen.blit(mono.render(line, True, (240, 240, 200)), (8, y))
                    y += 17
            pygame.display.flip()
            clock.tick(30)
            frames += 1
            if max_frames is not None and frames >= max_frames:
                running = False
    finally:
        pygame.display.quit()
