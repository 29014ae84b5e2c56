"""`python -m app` is the same as `kiln`."""

from app.cli import main

raise SystemExit(main())
