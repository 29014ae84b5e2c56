"""The Entry page's "Try it" runs the bundle the installers ship (staged by the engine, cached), not Kiln's Python;
an unchanged bundle starts at once, without the engine.

The dev run from sources is a second, clearly named button: the source folder with the app's requirements, in a
virtual environment Kiln keeps. Arguments are split like a shell does; every run has a Stop.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from kit.apps import write_rewrite

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

    started: list[object] = []
    entry.runner.engine.events.connect(started.append)
    again = run(driver, entry, entry.try_button)  # nothing changed: the cached bundle runs at once
    assert "reused" in again and "— the app exited with code 0 —" in again
    assert started == []  # checked in the wizard's own process: no engine to start on a busy machine
    driver.type(driver.page(PageId.ENTRY).args, "x")
    driver.wizard.save()  # saving the project file alone stages nothing again
    assert "reused" in run(driver, entry, entry.try_button)

    (folder / "tool.py").write_text(TOOL.format(extra='print("changed")'), encoding="utf-8")
    changed = run(driver, entry, entry.try_button)  # a source edit stages again
    assert "changed" in changed and "reused" not in changed


@pytest.mark.slow
def test_run_from_sources_has_the_apps_requirements_and_leaves_the_folder_alone(driver: Any, home: Path,
                                                                                tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch
                                                                                ) -> None:
    """ReText's "No module named 'markups'": the dev run had Kiln's packages, not the app's."""
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_rewrite(home / "rewrite")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    entry = to_entry_page(driver, folder)
    driver.type(entry.args, "'**from** sources'")
    output = run(driver, entry, entry.dev_button)
    assert "installing 1 requirement(s): Markdown>=3.4" in output and "installing rewrite itself" in output, output
    assert "ReWrite renders <p><strong>from</strong> sources</p>" in output, output
    assert "— the app exited with code 0 —" in output
    after = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.name != "kiln.toml")
    assert after == before  # no *.egg-info, build/ or __pycache__ left in the user's folder
    (folder / "ReWrite" / "__main__.py").write_text("def main():\n    print('edited')\n", encoding="utf-8")
    again = run(driver, entry, entry.dev_button)  # the environment is kept; the edit shows at once
    assert "requirements unchanged: reused" in again and "edited" in again, again


def test_stop_ends_a_run_from_sources(driver: Any, home: Path) -> None:
    folder = make_tool(home, extra="import time; print('waiting', flush=True); time.sleep(120)")
    entry = to_entry_page(driver, folder)
    driver.click(entry.dev_button)
    driver.qtbot.waitUntil(lambda: "waiting" in entry.output.toPlainText(), timeout=120_000)
    assert entry.stop_button.isEnabled() and f"with Python {sys.version.split()[0]}" in entry.output.toPlainText()
    driver.click(entry.stop_button)
    driver.qtbot.waitUntil(lambda: "— stopped —" in entry.output.toPlainText())
    assert entry.dev_button.isEnabled() and not entry.running()


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
