"""The version of the ``vlmgym`` distribution (both packages): written here only.

``pyproject.toml`` reads it statically (``[tool.setuptools.dynamic]``), ``vlmgym.__version__`` and
``vlmgym_rl.__version__`` import it.
"""

__version__ = "0.1.0"
