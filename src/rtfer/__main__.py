from rtfer.cli import main

raise SystemExit(main())
