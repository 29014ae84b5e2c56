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


REWRITE_SVG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" '
    'viewBox="0 0 256 256">\n  <rect x="16" y="16" width="224" height="224" rx="40" fill="#2a6fdb"/>\n'
    '  <path d="M70 190 L70 66 L130 66 Q170 66 170 104 Q170 140 130 140 L100 140 L176 190" stroke="white" '
    'stroke-width="20" fill="none"/>\n</svg>\n'
)
REWRITE = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=62.4"]\nbuild-backend = "setuptools.build_meta"\n\n'
    '[project]\nname = "ReWrite"\nversion = "8.1.0"\ndescription = "Simple editor for Markdown"\n'
    'authors = [{ name = "Re Person" }]\nrequires-python = ">=3.9"\ndependencies = ["Markdown>=3.4"]\n\n'
    '[project.gui-scripts]\nrewrite = "ReWrite.__main__:main"\n\n'
    '[tool.setuptools]\npackages = ["ReWrite"]\ninclude-package-data = false\n\n'
    '[tool.setuptools.data-files]\n"share/applications" = ["data/org.example.ReWrite.desktop"]\n'
    '"share/icons/hicolor/scalable/apps" = ["ReWrite/icons/rewrite.svg"]\n'
    '"share/metainfo" = ["data/org.example.ReWrite.metainfo.xml"]\n\n'
    '[tool.setuptools.package-data]\nReWrite = ["icons/*.png", "icons/*.svg"]\n',
    "ReWrite/__init__.py": "",
    "ReWrite/__main__.py": "import sys\n\nimport markdown\n\n\ndef main():\n"
    "    print('ReWrite renders', markdown.markdown(' '.join(sys.argv[1:]) or '*hello*'))\n    return 0\n\n\n"
    "if __name__ == '__main__':\n    sys.exit(main())\n",
    "ReWrite/icons/rewrite.svg": REWRITE_SVG,
    "data/org.example.ReWrite.desktop": "[Desktop Entry]\nName=ReWrite\nComment=Simple editor for Markdown\n"
    "Categories=Office;WordProcessor;\nExec=rewrite %F\nType=Application\nIcon=rewrite\n",
    "data/org.example.ReWrite.metainfo.xml": '<?xml version="1.0" encoding="UTF-8"?>\n<component type="desktop">\n'
    '  <id>org.example.ReWrite</id>\n  <launchable type="desktop-id">org.example.ReWrite.desktop</launchable>\n'
    "</component>\n",
}
"""A ReText-like source tree: an icons/ folder of small toolbar pictures (a 22 px red exit X first in the folder)
beside the app's own SVG, which its desktop file names (Icon=rewrite) and its data-files install."""


def write_rewrite(folder: Path) -> Path:
    """REWRITE in `folder`, with its toolbar pictures: application-exit.png (22 px red X) and document-new.png."""
    from PIL import Image, ImageDraw

    write_app(folder, REWRITE)
    for name, colour in (("application-exit.png", "#d01010"), ("document-new.png", "#808080")):
        image = Image.new("RGBA", (22, 22), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.line((3, 3, 18, 18), fill=colour, width=4)
        draw.line((3, 18, 18, 3), fill=colour, width=4)
        image.save(folder / "ReWrite" / "icons" / name)
    return folder
