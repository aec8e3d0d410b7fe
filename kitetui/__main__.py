from kitetui.entry import main

raise SystemExit(main())
