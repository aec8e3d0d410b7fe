"""``python -m kitetui.sim [flags]``: run the local Kite-compatible exchange."""

from kitetui.sim.server import main

raise SystemExit(main())
