"""The size chart: rows and words from build reports (with and without Qt pruning), the Build page showing a
finished build's pruned and unpruned Qt sizes, and (slow) the figures of a real pruning of PySide6."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from kiln.source.detect import detect
from kiln.support.sizes import human_size
from kiln.ui import engine_process
from kiln.ui.page_ids import PageId
from kiln.ui.size_chart import SizeChart, chart_lines, chart_rows, qt_pruning, report_sizes, row_label, saved_label

MIB = 1024 * 1024
ESSENTIALS_SHIPPED = 95_944_704  # 91.5 MiB, with the bytecode compiled after pruning
ESSENTIALS_REMOVED = 165_255_578  # 157.6 MiB
ADDONS_REMOVED = 178_100_000

# A report of the shape app/engine/report.py writes for a PySide6 app built for Linux (and Windows, unpruned).
QT_REPORT: dict[str, Any] = {
    "status": "ok",
    "artifacts": [],
    "installers": [],
    "size_by_component": {"runtime": 30 * MIB, "stdlib": 25 * MIB, "app": 12_000,
                          "pyside6_essentials": ESSENTIALS_SHIPPED, "pyside6_addons": 2 * MIB,
                          "shiboken6": 1_400_000},
    "size_by_target": {},
    "qt": {"linux-x86_64": {
        "binding": "PySide6", "modules": ["QtCore", "QtGui", "QtWidgets"], "qml_modules": [],
        "plugins": ["platforms/libqoffscreen.so", "platforms/libqxcb.so"],
        "dropped_bytes": ESSENTIALS_REMOVED + ADDONS_REMOVED,
        "dropped": ["PySide6/Qt/lib/libQt6Quick.so.6", "PySide6/QtQml.abi3.so"],
        "by_distribution": {
            "pyside6_essentials": {"unpruned": 250_000_000, "pruned": 250_000_000 - ESSENTIALS_REMOVED},
            "pyside6_addons": {"unpruned": 180_000_000, "pruned": 180_000_000 - ADDONS_REMOVED},
            "shiboken6": {"unpruned": 1_300_000, "pruned": 1_300_000},
        }}},
}
QT_REPORT["size_by_target"]["linux-x86_64"] = QT_REPORT["size_by_component"]


def test_rows_and_labels_of_a_pruned_qt_report() -> None:
    sizes, pruning = report_sizes(QT_REPORT)
    assert pruning.target == "linux-x86_64"
    assert pruning.unpruned == {"pyside6_essentials": ESSENTIALS_SHIPPED + ESSENTIALS_REMOVED,
                                "pyside6_addons": 2 * MIB + ADDONS_REMOVED}  # shiboken6 lost nothing
    rows = chart_rows(sizes, keep=pruning.unpruned)
    assert [name for name, _ in rows] == ["pyside6_essentials", "runtime", "stdlib", "pyside6_addons", "shiboken6",
                                          "app"]
    total = sum(size for _, size in rows)
    assert row_label(ESSENTIALS_SHIPPED, total, pruning.unpruned["pyside6_essentials"]) == \
        f"91.5 MiB ({100 * ESSENTIALS_SHIPPED / total:.0f}%, unpruned 249.1 MiB)"
    assert row_label(1_400_000, total) == f"1.3 MiB ({100 * 1_400_000 / total:.0f}%)"  # not pruned: as before
    assert saved_label(pruning.saved(sizes), pruning.target) == \
        f"Qt pruning saved {human_size(ESSENTIALS_REMOVED + ADDONS_REMOVED)} in the linux-x86_64 bundle"
    lines = chart_lines(rows, pruning.unpruned, saved_label(pruning.saved(sizes), pruning.target))
    assert lines[0].startswith("pyside6_essentials 91.5 MiB (") and lines[0].endswith(", unpruned 249.1 MiB)")
    assert lines[3] == f"pyside6_addons 2.0 MiB ({100 * 2 * MIB / total:.0f}%, unpruned 171.8 MiB)"
    assert lines[-1] == "Qt pruning saved 327.4 MiB in the linux-x86_64 bundle"


def test_a_report_without_qt_looks_as_before() -> None:
    report = {"size_by_component": {"runtime": 3_000_000, "stdlib": 9_000_000, "app": 2000, "rich": 1_400_000}}
    sizes, pruning = report_sizes(report)
    assert sizes == report["size_by_component"] and not pruning.unpruned and pruning.saved(sizes) == 0
    rows = chart_rows(sizes, keep=pruning.unpruned)
    assert chart_lines(rows, {}, saved_label(0)) == ["stdlib 8.6 MiB (67%)", "runtime 2.9 MiB (22%)",
                                                      "rich 1.3 MiB (10%)", "app 2.0 KiB (<1%)"]


def test_the_chart_shows_the_pruned_target_when_another_target_came_first() -> None:
    report = copy.deepcopy(QT_REPORT)
    windows = {"runtime": 20 * MIB, "stdlib": 20 * MIB, "app": 12_000, "PySide6_Essentials": 260 * MIB}
    report["size_by_target"] = {"windows-x86_64": windows, "linux-x86_64": report["size_by_component"]}
    report["size_by_component"] = windows  # the first target's, which shipped Qt whole
    sizes, pruning = report_sizes(report)
    assert sizes == QT_REPORT["size_by_component"] and pruning.target == "linux-x86_64"


def test_names_match_across_spellings_and_a_distribution_pruned_away_keeps_its_bar() -> None:
    many = {f"dep{i}": 1000 + i for i in range(20)}
    sizes, pruning = qt_pruning({"runtime": 5 * MIB, "PySide6_Essentials": 40 * MIB, **many},
                                {"pyside6-essentials": {"unpruned": 90 * MIB, "pruned": 39 * MIB},
                                 "PySide6_Addons": {"unpruned": 150 * MIB, "pruned": 0}})
    assert pruning.unpruned == {"PySide6_Essentials": 91 * MIB, "PySide6_Addons": 150 * MIB}
    rows = dict(chart_rows(sizes, keep=pruning.unpruned))
    assert rows["PySide6_Addons"] == 0  # its own bar, never summed into "others"
    assert "PySide6_Essentials" in rows and "11 others" in rows
    assert pruning.saved(sizes) == 51 * MIB + 150 * MIB


def test_the_widget_carries_the_figures_in_its_description_and_tooltip(qtbot: Any) -> None:
    chart = SizeChart()
    qtbot.addWidget(chart)
    chart.set_report(QT_REPORT)
    chart.resize(700, chart.sizeHint().height())
    assert chart.grab().width() == 700  # paints the pale and solid bars and the saved line without error
    description = chart.accessibleDescription()
    assert "pyside6_essentials 91.5 MiB (" in description and "unpruned 249.1 MiB)" in description
    assert description.endswith("; Qt pruning saved 327.4 MiB in the linux-x86_64 bundle")
    assert chart.toolTip() == description.replace("; ", "\n")
    assert chart.saved() == "Qt pruning saved 327.4 MiB in the linux-x86_64 bundle"
    chart.set_sizes({})
    assert chart.rows() == [] and chart.unpruned() == {} and chart.saved() == ""
    assert "Qt pruning" not in chart.accessibleDescription()


FINISHED_ENGINE = r'''
import json, pathlib, sys
out = pathlib.Path(sys.argv[1]).parent / "dist"
out.mkdir(exist_ok=True)
report = out / "hello-report.json"
report.write_text(sys.argv[2])
(out / "hello-build.log").write_text("log\n")
print(json.dumps({"kind": "done", "message": "build ok", "fraction": 1.0,
                  "data": {"status": "ok", "report": str(report), "log": str(out / "hello-build.log")}}), flush=True)
'''


def test_the_build_page_shows_pruned_and_unpruned_qt_sizes_of_a_finished_build(
        driver: Any, hello: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = hello.parent / "finished_engine.py"
    script.write_text(FINISHED_ENGINE)
    monkeypatch.setattr(engine_process, "engine_argv",
                        lambda project: [sys.executable, str(script), str(project), json.dumps(QT_REPORT)])
    driver.wizard.start_new(hello, detect(hello))
    driver.wizard.setStartId(PageId.BUILD)
    driver.wizard.restart()
    page = driver.page(PageId.BUILD)
    driver.click(page.build_button)
    driver.qtbot.waitUntil(lambda: page.result_status == "ok", timeout=20000)
    for shown in (page.chart.accessibleDescription(), page.chart.toolTip()):
        assert "pyside6_essentials 91.5 MiB (" in shown and "unpruned 249.1 MiB)" in shown
        assert "Qt pruning saved 327.4 MiB in the linux-x86_64 bundle" in shown
    assert page.chart.rows()[0][0] == "pyside6_essentials"
    page.show_last_build()  # the same figures when the project is opened again
    assert "unpruned 249.1 MiB" in page.chart.accessibleDescription() and page.chart.saved()


@pytest.mark.slow
def test_the_figures_of_a_real_pruning_of_pyside6(qtbot: Any, tmp_path: Path) -> None:
    """Prunes a copy of the installed PySide6 as a build does (no build, no download) and charts its report."""
    from kiln.engine.payload import dependency_sizes
    from kiln.engine.qt_prune import prune_qt

    pyside6 = pytest.importorskip("PySide6")
    assert pyside6.__file__
    site = Path(pyside6.__file__).parent.parent
    packages = tmp_path / "packages"
    packages.mkdir()
    for name in ("PySide6", "shiboken6"):
        shutil.copytree(site / name, packages / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for dist_info in site.glob("*.dist-info"):
        if dist_info.name.lower().startswith(("pyside6", "shiboken6")):
            shutil.copytree(dist_info, packages / dist_info.name)
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.py").write_text("from PySide6.QtWidgets import QApplication\n", encoding="utf-8")
    result = prune_qt(packages, [], [], "linux")
    assert result is not None
    sizes = {"runtime": 30 * MIB, "stdlib": 25 * MIB, "app": 100, **dependency_sizes(packages)}
    report = {"size_by_component": sizes, "size_by_target": {"linux-x86_64": sizes},
              "qt": {"linux-x86_64": json.loads(json.dumps(result.as_dict()))}}
    chart = SizeChart()
    qtbot.addWidget(chart)
    chart.set_report(report)
    essentials = next(name for name in sizes if name.lower().startswith("pyside6"))
    figures = result.by_distribution[essentials]
    assert chart.unpruned()[essentials] == sizes[essentials] + figures["unpruned"] - figures["pruned"]
    assert f"{essentials} {human_size(sizes[essentials])} (" in chart.accessibleDescription()
    assert f"unpruned {human_size(chart.unpruned()[essentials])})" in chart.accessibleDescription()
    saved = sum(f["unpruned"] - f["pruned"] for f in result.by_distribution.values())
    assert chart.saved() == f"Qt pruning saved {human_size(saved)} in the linux-x86_64 bundle"
    assert saved > 50 * MIB  # QtQuick, QtQml, WebEngine & co. went
