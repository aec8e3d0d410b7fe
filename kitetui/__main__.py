from kitetui.cli import main

raise SystemExit(main())
