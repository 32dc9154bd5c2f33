from reprostack.cli import main

raise SystemExit(main())
