"""``python -m vlmgym_rl``: the ``vlmgym-rl`` command line."""

from vlmgym_rl.cli import main

raise SystemExit(main())
