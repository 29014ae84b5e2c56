"""Entry checks: the entry among the files [source] selects (`kiln check`), and importable from the staged bundle."""

from __future__ import annotations

from pathlib import Path

from kiln.engine.payload import select_files
from kiln.model.project import EntrySection, SourceSection
from kiln.source.entry_checks import entry_problems, installed_entry_problems


def _entry_app(root: Path) -> None:
    files = {
        "app/pkg/__init__.py": "",
        "app/pkg/cli.py": "def main():\n    return 4\nclass Tool:\n    @staticmethod\n    def run():\n        pass\n",
        "app/pkg/__main__.py": "print('module')\n",
        "app/scripts/run.py": "print('script')\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_entry_problems(tmp_path: Path) -> None:
    _entry_app(tmp_path)
    (tmp_path / "app" / "nomain").mkdir()
    (tmp_path / "app" / "nomain" / "__init__.py").write_text("")
    files = set(select_files(tmp_path / "app", SourceSection(include=["**/*.py"])))
    assert entry_problems(EntrySection(module="pkg.cli:main"), files) == []
    assert entry_problems(EntrySection(module="pkg"), files) == []  # has __main__.py
    assert entry_problems(EntrySection(script="scripts/run.py"), files) == []
    # a dependency's module is checked in the bundle; without dependencies nothing could provide it
    assert entry_problems(EntrySection(module="cowsay.__main__:cli"), files, has_dependencies=True) == []
    (problem,) = entry_problems(EntrySection(module="cowsay.__main__:cli"), files)
    assert "'cowsay.__main__' is not among" in problem.message
    for entry, location, words in (
        (EntrySection(module="pkg.clix:main"), "entry.module", "'pkg.clix' is not among"),
        (EntrySection(script="nope.py"), "entry.script", "'nope.py' is not among"),
        (EntrySection(module="nomain"), "entry.module", "no __main__.py"),
    ):
        (problem,) = entry_problems(entry, files)
        assert problem.location == location and words in problem.message, problem


def test_installed_entry_problems_name_the_distribution(tmp_path: Path) -> None:
    _entry_app(tmp_path)
    packages = tmp_path / "packages"
    (packages / "cowsay").mkdir(parents=True)
    (packages / "cowsay" / "__init__.py").write_text("")
    (packages / "cowsay" / "__main__.py").write_text("def cli():\n    pass\n")
    (packages / "cowsay-6.1.dist-info").mkdir()
    (packages / "cowsay-6.1.dist-info" / "RECORD").write_text("cowsay/__init__.py,,\ncowsay/__main__.py,,\n")
    (packages / "fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    app = tmp_path / "app"
    for fine in ("cowsay.__main__:cli", "cowsay", "pkg.cli:main", "pkg.cli:Tool.run", "fast:run"):
        assert installed_entry_problems(EntrySection(module=fine), app, packages) == [], fine
    for entry, words in (
        ("cowsay.mian:cli", "cowsay 6.1 provides 'cowsay' but has no 'cowsay.mian'"),
        ("httpie.__main__:main", "no installed distribution and none of the app's files provide 'httpie'"),
        ("cowsay.__main__:clii", "'clii' is not defined in module 'cowsay.__main__'"),
        ("scripts", "package 'scripts' has no __main__.py"),
    ):
        (packages / "scripts").mkdir(exist_ok=True)
        (packages / "scripts" / "__init__.py").write_text("")
        (problem,) = installed_entry_problems(EntrySection(module=entry), app, packages)
        assert problem.location == "entry.module" and words in problem.message, problem
