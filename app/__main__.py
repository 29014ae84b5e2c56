"""`python -m kiln` is the same as `kiln`."""

from kiln.cli.main import main

raise SystemExit(main())
