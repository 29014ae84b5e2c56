"""A corpus of the shapes real Python apps come in, written out by the tests (see test_app_shapes.py).

Each shape is a folder of files as a user would have it, never touched after `kiln new`, plus what running
the built app must print. `pure` shapes build into a py3-none-any wheel (they also go into MSI and DMG).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SETUPTOOLS = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
COWSAY = "cowsay==6.1"  # a small, pure console app from PyPI


@dataclass(frozen=True)
class Shape:
    folder: str
    """The folder's name (what `kiln new` guesses a name from when there is no metadata)."""
    files: dict[str, str]
    args: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    """Lines (substrings) the app's output must hold."""
    name: str = ""
    """The app name `kiln new` must find (the artifacts are named after it)."""
    version: str = ""
    pure: bool = True
    display: bool = False
    """Needs an X display (run under Xvfb)."""
    uses_tk: bool = False
    code: int = 0
    """The exit code the app returns."""
    wine: bool = False
    """Also built into an MSI around python.org's real Windows CPython, installed and run under Wine."""
    command: str = ""
    """The app's command when it is not the app's name: the project's own script name (the launcher, the .exe)."""

    @property
    def is_project(self) -> bool:
        """A Python project (built into the app's wheel), not a folder of scripts."""
        return "pyproject.toml" in self.files or "setup.py" in self.files

    def write(self, parent: Path) -> Path:
        root = parent / self.folder
        for relative, text in self.files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root


TIPCALC = """import sys
import tkinter as tk

import cowsay

root = tk.Tk()
root.title("Tip calculator")
library = root.tk.eval("info library")
bill = tk.Entry(root)
bill.insert(0, "40")
bill.pack()
label = tk.Label(root, text="")
label.pack()
result = ""


def calc():
    global result
    result = f"tip {float(bill.get()) * 0.15:.2f}"
    label.config(text=result)


tk.Button(root, text="Tip", command=calc).pack()
calc()
root.after(200, root.destroy)
root.mainloop()
print(result, "with", cowsay.__name__)
print("library", library)
print("argv0", sys.argv[0])
"""
"""A beginner's script: a tkinter window built at the top level, no `if __name__ == "__main__":`."""

MOO_723 = f"""# /// script
# requires-python = ">=3.9"
# dependencies = [
#   "{COWSAY}",
# ]
# ///
import sys

import cowsay

print(cowsay.get_output_string("cow", "pep 723 " + " ".join(sys.argv[1:])))
print("argv0", sys.argv[0])
"""
"""A PEP 723 script: its dependencies are in its own comment block, nothing else in the folder."""

SHAPES: dict[str, Shape] = {
    "src-layout": Shape(
        "srcapp", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "srcapp"\nversion = "1.4.0"\n'
            'description = "src layout with package data"\n'
            '[project.scripts]\nsrcapp = "srcapp.cli:main"\n'
            '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
            '[tool.setuptools.package-data]\nsrcapp = ["*.txt"]\n',
            "src/srcapp/__init__.py": "",
            "src/srcapp/greeting.txt": "hello from package data\n",
            "src/srcapp/cli.py": "from importlib.resources import files\n\n\ndef main():\n"
            "    print(files('srcapp').joinpath('greeting.txt').read_text().strip())\n",
        }, expect=("hello from package data",), name="srcapp", version="1.4.0",
    ),
    "flat-layout": Shape(
        "flatapp", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "flatapp"\nversion = "2.0"\n'
            '[project.scripts]\nflatapp = "flatapp.main:run"\n',
            "flatapp/__init__.py": "",
            "flatapp/main.py": "import sys\n\n\ndef run():\n    print('flat', sys.argv[1:])\n    return 3\n",
        }, args=("a b", "ü"), expect=("flat ['a b', 'ü']",), name="flatapp", version="2.0", code=3,
    ),
    "metadata-version": Shape(
        "metaver", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "metaver"\nversion = "3.1.4"\n'
            '[project.scripts]\nmetaver = "metaver:main"\n',
            "metaver/__init__.py": "from importlib.metadata import version\n\n__version__ = version('metaver')\n\n\n"
            "def main():\n    print('metaver', __version__)\n",
        }, expect=("metaver 3.1.4",), name="metaver", version="3.1.4",
    ),
    "plugins": Shape(
        "plugapp", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "plugapp"\nversion = "1.0"\n'
            '[project.scripts]\nplugapp = "plugapp.cli:main"\n'
            '[project.entry-points."plugapp.greeters"]\nloud = "plugapp.greeters:loud"\n'
            'quiet = "plugapp.greeters:quiet"\n',
            "plugapp/__init__.py": "",
            "plugapp/greeters.py": "def loud():\n    return 'HELLO'\n\n\ndef quiet():\n    return 'hello'\n",
            "plugapp/cli.py": "from importlib.metadata import entry_points\n\n\ndef main():\n"
            "    found = sorted(entry_points(group='plugapp.greeters'), key=lambda e: e.name)\n"
            "    print('plugins', [(e.name, e.load()()) for e in found])\n",
        }, expect=("plugins [('loud', 'HELLO'), ('quiet', 'hello')]",), name="plugapp", version="1.0",
    ),
    "dynamic-version": Shape(
        "dynver", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "dynver"\ndynamic = ["version"]\n'
            '[project.scripts]\ndynver = "dynver.cli:main"\n'
            '[tool.setuptools.dynamic]\nversion = {attr = "dynver.__version__"}\n',
            "dynver/__init__.py": "__version__ = '5.6.7'\n",
            "dynver/cli.py": "import dynver\n\n\ndef main():\n    print('dynamic', dynver.__version__)\n",
        }, expect=("dynamic 5.6.7",), name="dynver", version="5.6.7",
    ),
    "setup-py-only": Shape(
        "oldstyle", {
            "setup.py": "from setuptools import setup\n\nsetup(\n    name='oldstyle', version='0.9.1',\n"
            "    author='Old Style Ltd', description='setup.py and nothing else',\n"
            "    packages=['oldstyle'],\n"
            "    entry_points={'console_scripts': ['oldstyle = oldstyle.cli:main']},\n)\n",
            "oldstyle/__init__.py": "",
            "oldstyle/cli.py": "def main():\n    print('setup.py app')\n",
        }, expect=("setup.py app",), name="oldstyle", version="0.9.1",
    ),
    "hatchling": Shape(
        "hatchapp", {
            "pyproject.toml": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
            '[project]\nname = "hatchapp"\nversion = "1.2.0"\n[project.scripts]\nhatchapp = "hatchapp.main:run"\n',
            "src/hatchapp/__init__.py": "",
            "src/hatchapp/main.py": "from importlib.metadata import version\n\n\ndef run():\n"
            "    print('hatch', version('hatchapp'))\n",
        }, expect=("hatch 1.2.0",), name="hatchapp", version="1.2.0",
    ),
    "flit": Shape(
        "flitapp", {
            "pyproject.toml": '[build-system]\nrequires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"\n'
            '[project]\nname = "flitapp"\ndynamic = ["version", "description"]\n'
            '[project.scripts]\nflitapp = "flitapp:main"\n',
            "flitapp.py": '"""A one-module app built with flit."""\n\n__version__ = "0.4.0"\n\n\n'
            "def main():\n    print('flit', __version__, __doc__)\n",
        }, expect=("flit 0.4.0 A one-module app built with flit.",), name="flitapp", version="0.4.0",
    ),
    "wrapper": Shape(
        "moo", {
            "pyproject.toml": '[project]\nname = "moo"\nversion = "1.0.0"\n'
            f'dependencies = ["{COWSAY}"]\n[project.scripts]\ncowsay = "cowsay.__main__:cli"\n',
        }, args=("-t", "shipped as it is"), expect=("shipped as it is", "^__^"), name="moo", version="1.0.0",
        command="cowsay",
    ),
    "script-requirements": Shape(
        "My Cow Äpp", {
            "main.py": "import sys\n\nimport cowsay\n\nif __name__ == '__main__':\n"
            "    print(cowsay.get_output_string('cow', 'script ' + ' '.join(sys.argv[1:])))\n",
            "requirements.txt": COWSAY + "\n",
        }, args=("with", "requirements"), expect=("script with requirements", "^__^"), name="my-cow-app",
        version="0.1.0",
    ),
    "tkinter-window": Shape(
        "tkapp", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "tkapp"\nversion = "1.0"\n'
            '[project.gui-scripts]\ntkapp = "tkapp.window:main"\n',
            "tkapp/__init__.py": "",
            "tkapp/window.py": "import sys\nimport tkinter\n\n\ndef main():\n    root = tkinter.Tk()\n"
            "    tkinter.Label(root, text='Hello Tk').pack()\n    root.update()\n"
            "    print('tk', root.tk.eval('info patchlevel'), root.winfo_ismapped())\n"
            "    print('library', root.tk.eval('info library'))\n    root.destroy()\n",
        }, expect=("tk 8.6", "library "), name="tkapp", version="1.0", display=True, uses_tk=True,
    ),
    "spawn-pool": Shape(
        "poolapp", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "poolapp"\nversion = "1.0"\n'
            '[project.scripts]\npoolapp = "poolapp.cli:main"\n',
            "poolapp/__init__.py": "",
            "poolapp/cli.py": "import multiprocessing\n\nprint('imported', __name__)\n\n\n"
            "def square(x):\n    return x * x\n\n\ndef main():\n"
            "    with multiprocessing.get_context('spawn').Pool(2) as pool:\n"
            "        print('squares', pool.map(square, range(6)))\n",
        }, expect=("squares [0, 1, 4, 9, 16, 25]",), name="poolapp", version="1.0",
    ),
    "package-data-no-manifest": Shape(
        "notes", {
            # setuptools, no MANIFEST.in, no package-data: its wheel leaves every data file out (Kiln adds them).
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "notes"\nversion = "1.1"\n'
            '[project.scripts]\nnotes = "notes.cli:main"\n',
            "notes/__init__.py": "",
            "notes/data/note.txt": "a note read with importlib.resources\n",
            "notes/templates/page.txt": "a template read next to __file__\n",
            "notes/données/café ☕.txt": "une donnée au nom accentué\n",
            "notes/cli.py": "from importlib.resources import files\nfrom pathlib import Path\n\n\ndef main():\n"
            "    print(files('notes').joinpath('data/note.txt').read_text(encoding='utf-8').strip())\n"
            "    print((Path(__file__).parent / 'templates' / 'page.txt').read_text(encoding='utf-8').strip())\n"
            "    print((files('notes') / 'données' / 'café ☕.txt').read_text(encoding='utf-8').strip())\n",
        }, expect=("a note read with importlib.resources", "a template read next to __file__",
                   "une donnée au nom accentué"), name="notes", version="1.1", wine=True,
    ),
    "script-assets": Shape(
        "Little Game", {
            # A folder of scripts: the assets and levels beside them ship, tests/ does not.
            "game.py": "from pathlib import Path\n\nimport levels_reader\n\nHERE = Path(__file__).parent\n\n"
            "if __name__ == '__main__':\n"
            "    print((HERE / 'assets' / 'été.txt').read_text(encoding='utf-8').strip())\n"
            "    print(levels_reader.first_level())\n",
            "levels_reader.py": "import os\n\n\ndef first_level():\n"
            "    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'levels')\n"
            "    with open(os.path.join(folder, sorted(os.listdir(folder))[0]), encoding='utf-8') as f:\n"
            "        return f.read().strip()\n",
            "assets/été.txt": "an asset beside the scripts\n",
            "levels/01.txt": "level one\n",
            "tests/test_game.py": "def test_nothing():\n    pass\n",
        }, expect=("an asset beside the scripts", "level one"), name="little-game", version="0.1.0", wine=True,
    ),
    "runs-own-py": Shape(
        "runner", {
            # The app starts one of its own .py files with sys.executable (as thonny starts its back end).
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "runner"\nversion = "2.1"\n'
            '[project.scripts]\nrunner = "runner.cli:main"\n',
            "runner/__init__.py": "",
            "runner/backend.py": "import sys\n\nprint('backend', sys.argv[1:])\n",
            "runner/cli.py": "import subprocess\nimport sys\nfrom pathlib import Path\n\n\ndef main():\n"
            "    backend = Path(__file__).with_name('backend.py')\n"
            "    done = subprocess.run([sys.executable, '-u', '-B', str(backend), 'ok'], capture_output=True, "
            "text=True)\n"
            "    print(done.stdout.strip(), done.returncode, done.stderr.strip()[-200:])\n",
        }, expect=("backend ['ok'] 0",), name="runner", version="2.1", wine=True,
    ),
    "subprocess-python": Shape(
        "subapp", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "subapp"\nversion = "1.0"\n'
            f'dependencies = ["{COWSAY}"]\n[project.scripts]\nsubapp = "subapp.cli:main"\n',
            "subapp/__init__.py": "",
            "subapp/child.py": "import sys\n\nimport cowsay\n\nprint('child', sys.argv[1:], cowsay.__name__)\n",
            "subapp/cli.py": "import subprocess\nimport sys\n\n\ndef main():\n"
            "    done = subprocess.run([sys.executable, '-m', 'subapp.child', 'x y'], capture_output=True, text=True)\n"
            "    print(done.stdout.strip(), done.returncode, done.stderr.strip()[-200:])\n"
            "    print('argv0', sys.argv[0])\n",
        }, expect=("child ['x y'] cowsay 0",), name="subapp", version="1.0",
    ),
    "lone-tk-script": Shape(
        "tipcalc", {"tipcalc.py": TIPCALC, "requirements.txt": COWSAY + "\n"},
        expect=("tip 6.00 with cowsay",), name="tipcalc", version="0.1.0", display=True, uses_tk=True, wine=True,
    ),
    "pep723-script": Shape(
        "moo723", {"moo.py": MOO_723}, args=("a b",), expect=("pep 723 a b", "^__^"), name="moo723",
        version="0.1.0", wine=True,
    ),
    "named-command": Shape(
        "colorist", {
            "pyproject.toml": SETUPTOOLS + '[project]\nname = "colorist"\nversion = "1.0"\n'
            '[project.scripts]\ncolorize = "colorist.cli:main"\n',
            "colorist/__init__.py": "",
            "colorist/cli.py": "import argparse\nimport sys\n\n\ndef main():\n"
            "    parser = argparse.ArgumentParser()\n    parser.add_argument('word')\n"
            "    print('prog', parser.prog, parser.parse_args().word)\n    print('argv0', sys.argv[0])\n",
        }, args=("red",), expect=(" red",), name="colorist", version="1.0", wine=True, command="colorize",
    ),
}
