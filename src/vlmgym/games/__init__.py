"""Built-in games, one module each. Importing this package registers them by name."""

from vlmgym.games.game2048 import Game2048

__all__ = ["Game2048"]
