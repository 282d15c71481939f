"""Built-in games, one module each. Importing this package imports every module in it, so each
game registers itself by name (``@register_game``): a new game is one new file here plus its ids
in :mod:`vlmgym.registration`."""

import importlib
import pkgutil

from vlmgym.games.game2048 import Game2048
from vlmgym.games.shisensho import Shisensho
from vlmgym.games.swap import Swap

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["Game2048", "Shisensho", "Swap"]
