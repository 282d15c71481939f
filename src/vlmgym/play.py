"""``vlmgym play ENV_ID``: play a game yourself in a pygame window (``pip install 'vlmgym[play]'``).

Controls: arrow keys (or W/A/S/D) move in 2048; click two tiles to pair or swap them in the tile
games (click a selected tile again to deselect). P shows the prompt the model gets, T the exact
board text, U undoes a move, R starts a new game, H toggles help, Q or Esc quits.

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

from vlmgym.core.answer import DIRECTIONS

__all__ = ["HEADLESS_DRIVERS", "KEY_DIRECTIONS", "PlaySession", "cell_at", "open_display", "play", "run_window"]

#: pygame key names -> 2048 directions (0 up, 1 right, 2 down, 3 left).
KEY_DIRECTIONS = {"up": 0, "right": 1, "down": 2, "left": 3, "w": 0, "d": 1, "s": 2, "a": 3}
_NO_DISPLAY = ("cannot open a window ({}). `vlmgym play` needs a display; on a headless machine use "
               "`vlmgym eval` (videos of every run) or render_mode='rgb_array'")
#: SDL video drivers that draw into memory only: a window on them is never seen.
HEADLESS_DRIVERS = ("offscreen", "dummy")
HELP = ("arrows/WASD: move (2048)   click two tiles: pair/swap   P: prompt   T: board text   "
        "U: undo   R: new game   H: help   Q/Esc: quit")


def cell_at(x: float, y: float, renderer: Any, scale: float = 1.0) -> tuple[int, int] | None:
    """The board cell ``(row, col)`` under window pixel ``(x, y)``, or ``None`` off the board."""
    px, py = x / scale - renderer.board_x, y / scale - renderer.board_y
    if px < 0 or py < 0:
        return None
    r, c = int(py // renderer.cell_px), int(px // renderer.cell_px)
    if r >= renderer.rows or c >= renderer.cols:
        return None
    return r, c


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
        _, self.info = self.env.reset(seed=seed)
        self.selected: tuple[int, int] | None = None
        self.history: list[Any] = []
        self.total_reward = 0.0
        self.moves = 0
        self.over = False
        self.message = HELP

    # -- input -> answer ---------------------------------------------------------------------
    def answer_for_key(self, key_name: str) -> str | None:
        """The answer a key stands for (2048 directions), or ``None``."""
        if self.game.action_kind != "direction":
            return None
        d = KEY_DIRECTIONS.get(key_name.lower())
        return None if d is None else f"<answer>{d}</answer>"

    def click_cell(self, cell: tuple[int, int] | None) -> str | None:
        """Select a tile; the second distinct tile gives the answer ``(r1, c1) (r2, c2)``."""
        if self.game.action_kind != "pair":
            self.message = "use the arrow keys in this game"
            return None
        if cell is None:
            self.selected = None
            return None
        if self.selected is None:
            self.selected = cell
            self.message = f"selected {cell}; click a second tile"
            return None
        if self.selected == cell:
            self.selected = None
            self.message = "selection cleared"
            return None
        first, self.selected = self.selected, None
        return f"<answer>({first[0]}, {first[1]}) ({cell[0]}, {cell[1]})</answer>"

    def click(self, x: float, y: float, scale: float = 1.0) -> str | None:
        """A mouse click at window pixel ``(x, y)`` (see :meth:`click_cell`)."""
        return self.click_cell(cell_at(x, y, self.core.engine.renderer, scale))

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
        shown = f"{action} ({DIRECTIONS[action]})" if isinstance(action, int) else str(action)
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
        self.selected = None
        self.moves = max(0, self.moves - 1)
        self.message = "undone"
        return True

    def new_game(self, seed: int | None = None) -> None:
        _, self.info = self.env.reset(seed=seed)
        self.history.clear()
        self.selected = None
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
    from vlmgym.envs.human import import_pygame

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
    from vlmgym.envs.human import import_pygame

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
                        session.message = HELP
                    elif name == "u":
                        session.undo()
                    elif name == "r":
                        session.new_game()
                    else:
                        answer = session.answer_for_key(name)
                elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
                    answer = session.click(event.pos[0] - x0, event.pos[1], scale)
                if answer is not None:
                    session.play(answer)
            screen.fill((24, 24, 24))
            surf = pygame.surfarray.make_surface(np.ascontiguousarray(session.frame().swapaxes(0, 1)))
            if scale != 1.0:
                surf = pygame.transform.smoothscale(surf, (bw, bh))
            screen.blit(surf, (x0, 0))
            r = session.core.engine.renderer
            if session.selected is not None:
                sr, sc = session.selected
                rect = pygame.Rect(x0 + (r.board_x + sc * r.cell_px) * scale, (r.board_y + sr * r.cell_px) * scale,
                                   r.cell_px * scale, r.cell_px * scale)
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
