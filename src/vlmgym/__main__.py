"""``python -m vlmgym``: the ``vlmgym`` command line."""

from vlmgym.cli import main

raise SystemExit(main())
