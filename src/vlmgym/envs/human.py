"""A pygame window for ``render_mode="human"`` (optional extra: ``pip install vlmgym[play]``).

pygame is imported lazily so that the core package never needs it. Gymnasium's own extras install
``pygame-ce``, which provides the same ``pygame`` import name; either works.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

__all__ = ["Viewer", "import_pygame"]


def import_pygame() -> Any:
    """Import pygame or explain how to get it."""
    try:
        import pygame
    except ImportError as exc:
        raise DependencyNotInstalled(
            "render_mode='human' and `vlmgym play` need pygame: pip install 'vlmgym[play]'"
        ) from exc
    return pygame


class Viewer:
    """Shows RGB frames in a window, keeping the window responsive."""

    def __init__(self, title: str, width: int, height: int, fps: int = 4):
        pygame = import_pygame()
        self.pygame = pygame
        pygame.init()
        try:
            self.screen = pygame.display.set_mode((width, height))
        except pygame.error as exc:
            raise RuntimeError(
                f"cannot open a window ({exc}). No display? Use render_mode='rgb_array', or set "
                "SDL_VIDEODRIVER=dummy for headless runs."
            ) from exc
        pygame.display.set_caption(title)
        self.clock = pygame.time.Clock()
        self.fps = fps

    def show(self, frame: np.ndarray) -> None:
        pg = self.pygame
        pg.event.pump()
        surface = pg.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        if surface.get_size() != self.screen.get_size():
            self.screen = pg.display.set_mode(surface.get_size())
        self.screen.blit(surface, (0, 0))
        pg.display.flip()
        self.clock.tick(self.fps)

    def close(self) -> None:
        self.pygame.display.quit()
