"""Which sources ship: a package whose code names one of its own .py files keeps its sources (thonny starts
`cp_launcher.py` with sys.executable); `keep_sources` true and false override the scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.engine.sources import keep_for, sources_needed


def _site(root: Path) -> Path:
    files = {
        "runner/__init__.py": "import os, subprocess, sys\nHERE = os.path.dirname(__file__)\n\n\ndef start():\n"
                              "    subprocess.run([sys.executable, os.path.join(HERE, 'backend', 'launcher.py')])\n",
        "runner/backend/launcher.py": "print('backend')\n",
        "finder/__init__.py": "def is_package(path):\n    return (path / '__init__.py').exists()\n",
        "finder/tests/test_finder.py": "FIXTURE = 'finder_helper.py'\n",
        "finder/tests/finder_helper.py": "",
        "plain/__init__.py": "NAME = 'other.py'\n",
        "plain-1.0.dist-info/METADATA": "",
        "single.py": "X = 'single.py'\n",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


def test_a_package_naming_its_own_py_file_needs_its_sources(tmp_path: Path) -> None:
    # finder names __init__.py (any package's) and its tests name their own helper: neither counts.
    assert sources_needed(_site(tmp_path)) == {"runner": "runner/__init__.py:6 names 'launcher.py'"}


@pytest.mark.parametrize(("setting", "keep"), [
    pytest.param("auto", frozenset({"runner", "myapp"}), id="auto"),
    pytest.param(True, True, id="true"),
    pytest.param(False, False, id="false"),
])
def test_the_setting_decides_what_stays(tmp_path: Path, setting: bool | str, keep: object) -> None:
    kept, needed = keep_for(setting, _site(tmp_path), own=frozenset({"myapp"}))
    assert kept == keep
    assert list(needed) == ([] if setting is True else ["runner"])  # false still finds them, to warn
