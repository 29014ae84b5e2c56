"""`python -m ui [PROJECT]`: the wizard without the CLI (handy while developing the UI)."""

from __future__ import annotations

import sys
from pathlib import Path

from kiln.ui.main import run_wizard

sys.exit(run_wizard(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
