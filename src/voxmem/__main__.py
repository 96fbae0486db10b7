"""``python -m voxmem``: the same CLI as the ``voxmem`` command."""

from .cli import main

raise SystemExit(main())
