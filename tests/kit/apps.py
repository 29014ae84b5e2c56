"""Small real apps the wizard tests package: a src-layout Qt app with console and GUI scripts, a setup.py app."""

from __future__ import annotations

from pathlib import Path

SRC_LAYOUT = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
    '[project]\nname = "srcgui"\nversion = "1.4.0"\ndescription = "A src-layout app with console and GUI scripts"\n'
    'authors = [{ name = "Src Person" }]\nrequires-python = ">=3.10"\n'
    'dependencies = ["PySide6-Essentials>=6.6,!=6.12.0"]\n\n'
    '[project.scripts]\nsrcgui-cli = "srcgui.cli:main"\n\n[project.gui-scripts]\nsrcgui = "srcgui.app:main"\n\n'
    '[tool.setuptools.packages.find]\nwhere = ["src"]\n\n[tool.setuptools.package-data]\nsrcgui = ["*.txt"]\n',
    "src/srcgui/__init__.py": "",
    "src/srcgui/greeting.txt": "hello from package data\n",
    "src/srcgui/cli.py": "import sys\nfrom importlib.resources import files\n\n\ndef main():\n"
    "    print(files('srcgui').joinpath('greeting.txt').read_text().strip(), sys.argv[1:])\n    return 0\n",
    "src/srcgui/app.py": "import sys\n\n\ndef main():\n    from PySide6.QtWidgets import QApplication, QLabel\n\n"
    "    app = QApplication(sys.argv)\n    label = QLabel('hello')\n    print('srcgui window on', app.platformName(),"
    " label.text())\n    return 0\n",
}
SETUP_PY = {
    "setup.py": "from setuptools import setup\n\nsetup(\n    name='setuptool',\n    version='0.3.1',\n"
    "    description='A setup.py-only console app',\n    author='Setup Person',\n    packages=['setuptool'],\n"
    "    entry_points={'console_scripts': ['setuptool = setuptool.main:run']},\n)\n",
    "setuptool/__init__.py": "",
    "setuptool/main.py": "import sys\n\n\ndef run():\n    print('setuptool says', ' '.join(sys.argv[1:]))\n"
    "    return 0\n",
}


def write_app(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
