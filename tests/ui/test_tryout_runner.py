"""The Entry page's "Try it" runs the bundle the installers ship (staged by the engine, cached), not Kiln's Python.

The dev run from sources is a second, clearly named button; Arguments are split like a shell does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from kiln.ui.page_ids import PageId
from kiln.ui.pages.entry import split_args

TOOL = '''import sys


def report():
    print("prefix", sys.prefix)
    print("args", sys.argv[1:])
    {extra}


if __name__ == "__main__":
    report()
'''


def make_tool(home: Path, extra: str = "") -> Path:
    folder = home / "tool"
    folder.mkdir()
    (folder / "tool.py").write_text(TOOL.format(extra=extra), encoding="utf-8")
    return folder


def to_entry_page(d: Any, folder: Path) -> Any:
    start = d.page(PageId.START)
    d.type(start.folder.edit, f"~/{folder.name}")
    d.next(PageId.APPLICATION)
    d.next(PageId.ENTRY)
    return d.page(PageId.ENTRY)


def run(d: Any, entry: Any, button: Any, timeout: int = 300_000) -> str:
    d.click(button)
    d.qtbot.waitUntil(lambda: "— the app" in entry.output.toPlainText()
                      or "— not run" in entry.output.toPlainText(), timeout=timeout)
    return str(entry.output.toPlainText())


def test_arguments_split_like_a_shell() -> None:
    assert split_args('-t "Hello from Kiln" --x=\'a b\' plain') == ["-t", "Hello from Kiln", "--x=a b", "plain"]
    with pytest.raises(ValueError):
        split_args('-t "unclosed')


def test_try_it_runs_the_shipped_bundle_and_reuses_it(driver: Any, home: Path) -> None:
    folder = make_tool(home)
    entry = to_entry_page(driver, folder)
    assert entry.target.text() == "tool.py"
    assert entry.try_button.text().replace("&", "") == "Try it (as it ships)"
    assert entry.dev_button.text().replace("&", "") == "Run from sources"
    driver.type(entry.args, '-t "Hello from Kiln"')
    output = run(driver, entry, entry.try_button)
    assert "— the app exited with code 0 —" in output, output
    assert "args ['-t', 'Hello from Kiln']" in output
    prefix = next(line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("prefix "))
    # The bundle's own runtime ran the app (inside Kiln's cache), not the Python that runs Kiln.
    assert prefix != sys.prefix and Path(prefix).name == "runtime" and "tryout" in Path(prefix).parts
    assert (folder / "kiln.toml").is_file()  # the engine reads the saved project, like a build
    assert not driver.wizard.isWindowModified()

    again = run(driver, entry, entry.try_button)  # nothing changed: the cached bundle runs at once
    assert "reused" in again and "— the app exited with code 0 —" in again

    (folder / "tool.py").write_text(TOOL.format(extra='print("changed")'), encoding="utf-8")
    changed = run(driver, entry, entry.try_button)  # a source edit stages again
    assert "changed" in changed and "reused" not in changed


def test_run_from_sources_uses_kilns_python_and_says_so(driver: Any, home: Path) -> None:
    folder = make_tool(home)
    entry = to_entry_page(driver, folder)
    driver.type(entry.args, "a 'b c'")
    output = run(driver, entry, entry.dev_button, timeout=30_000)
    assert "from sources with Kiln's Python" in output
    assert "args ['a', 'b c']" in output and f"prefix {sys.prefix}" in output
    assert not (folder / "kiln.toml").exists()  # a dev run reads the sources only


def test_an_open_quote_is_reported_not_run(driver: Any, home: Path) -> None:
    entry = to_entry_page(driver, make_tool(home))
    driver.type(entry.args, '-t "unclosed')
    driver.click(entry.try_button)
    assert "Cannot read the arguments" in entry.output.toPlainText()
    assert entry.try_button.isEnabled() and not entry.running()


def test_a_failing_preparation_is_explained(driver: Any, home: Path) -> None:
    folder = make_tool(home)
    entry = to_entry_page(driver, folder)
    driver.wizard.project = driver.wizard.project.model_copy(update={  # a requirement no index has
        "dependencies": driver.wizard.project.dependencies.model_copy(
            update={"requirements": ["kiln-no-such-package-xyz==1.0"], "index_url": "http://127.0.0.1:9/simple"})})
    output = run(driver, entry, entry.try_button)
    assert "Cannot prepare the app" in output and "— not run" in output, output
