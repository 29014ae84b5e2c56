"""What ships beside the scripts: every folder beside a folder of scripts, and what the code names, whatever the
include globs say; `[source] folders` and `exclude` decide otherwise."""

from __future__ import annotations

from pathlib import Path

from kiln.model.project import SourceSection
from kiln.source.companions import select_with_companions

MAIN = """from pathlib import Path

HERE = Path(__file__).parent


def level(n):
    return (HERE / "levels" / f"{n}.txt").read_text()
"""


def _tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


SCRIPTS = {
    "main.py": MAIN, "helpers.py": "X = 1\n", "assets/img/logo.png": "png", "assets/sons/bip ü.wav": "wav",
    "levels/1.txt": "one", "tests/test_main.py": "", "tests/data.txt": "", ".git/config": "", "venv/pyvenv.cfg": "",
    "venv/lib/x.py": "", "__pycache__/main.cpython-311.pyc": "", "dist/old.AppImage": "", ".idea/x.xml": "",
    "notes.md": "not named by any code",
}


def test_a_folder_of_scripts_ships_every_folder_beside_them(tmp_path: Path) -> None:
    root = _tree(tmp_path / "game", SCRIPTS)
    selection, found = select_with_companions(root, SourceSection(include=["main.py", "helpers.py"]))
    assert selection.files == ["assets/img/logo.png", "assets/sons/bip ü.wav", "helpers.py", "levels/1.txt", "main.py"]
    assert found.added == {"assets": 2, "levels": 1}
    assert found.reasons() == {"assets": "beside the scripts", "levels": "beside the scripts"}
    assert found.beside().startswith("shipping the folders beside the scripts: assets/ (2 files), levels/ (1 file)")
    assert found.named_warning() == ""  # levels/ is named by main.py, but it ships anyway


def test_folders_lists_the_ones_to_ship_and_exclude_wins(tmp_path: Path) -> None:
    root = _tree(tmp_path / "game", SCRIPTS)
    selection, found = select_with_companions(root, SourceSection(include=["*.py"], folders=[]))
    assert selection.files == ["helpers.py", "levels/1.txt", "main.py"]  # the code names levels/: it ships
    assert found.reasons() == {"levels": "named in main.py:7"}
    assert "levels (1 file; main.py:7)" in found.named_warning()
    selection, _ = select_with_companions(root, SourceSection(include=["*.py"], folders=["assets"],
                                                              exclude=["levels/**", "**/*.wav"]))
    assert selection.files == ["assets/img/logo.png", "helpers.py", "main.py"]


def test_a_python_project_built_by_globs_gets_only_what_its_code_names(tmp_path: Path) -> None:
    root = _tree(tmp_path / "proj", {
        "pyproject.toml": "[project]\nname = 'x'\n", "pkg/__init__.py": "",
        "pkg/cli.py": 'import os\nCONFIG = os.path.join(os.path.dirname(__file__), "..", "config.ini")\n'
                      'SPRITES = "sprites/*.png"\nURL = "https://example.org/pkg"\n',
        "config.ini": "[x]\n", "sprites/a.png": "a", "docs/index.md": "docs",
    })
    selection, found = select_with_companions(root, SourceSection(include=["pkg/**"]))
    assert selection.files == ["config.ini", "pkg/__init__.py", "pkg/cli.py", "sprites/a.png"]
    assert found.reasons() == {"config.ini": "named in pkg/cli.py:2", "sprites": "named in pkg/cli.py:3"}


def test_paths_outside_the_folder_and_unparsable_code_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    root = _tree(tmp_path / "app", {"main.py": 'A = "../outside"\nB = "/etc"\nC = "."\n', "broken.py": "def (:\n"})
    selection, found = select_with_companions(root, SourceSection(include=["*.py"]))
    assert selection.files == ["broken.py", "main.py"] and found.added == {}
