"""Built-in games, one module each. Importing this package registers them by name."""

from vlmgym.games.game2048 import Game2048
from vlmgym.games.shisensho import Shisensho
from vlmgym.games.swap import Swap

__all__ = ["Game2048", "Shisensho", "Swap"]
