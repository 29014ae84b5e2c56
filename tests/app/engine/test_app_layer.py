"""The app's own wheel as the bundle's app/ folder: unpacked as pip installs it, and taken out of packages/ again."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from kiln.engine.app_layer import remove_distribution, unpack_app_wheel
from kiln.support.errors import KilnError


def _wheel(path: Path, members: dict[str, bytes], executable: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            archive.writestr(info, data)
    return path


def test_unpack_keeps_importable_files_and_metadata_and_leaves_records_scripts_and_data(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "app-1.0-py3-none-any.whl", {
        "app/__init__.py": b"", "app/data/words.txt": b"w\n", "app/tool.sh": b"#!/bin/sh\n",
        "app-1.0.dist-info/METADATA": b"Name: app\nVersion: 1.0\n", "app-1.0.dist-info/RECORD": b"",
        "app-1.0.dist-info/entry_points.txt": b"[console_scripts]\napp = app:main\n",
        "app-1.0.data/purelib/app_extra.py": b"X = 1\n", "app-1.0.data/scripts/app": b"#!python\n",
        "app-1.0.data/data/share/app.desktop": b"",
    }, executable=("app/tool.sh",))
    unpack_app_wheel(wheel, tmp_path / "app")
    found = sorted(p.relative_to(tmp_path / "app").as_posix() for p in (tmp_path / "app").rglob("*") if p.is_file())
    assert found == ["app-1.0.dist-info/METADATA", "app-1.0.dist-info/entry_points.txt", "app/__init__.py",
                     "app/data/words.txt", "app/tool.sh", "app_extra.py"]
    assert (tmp_path / "app" / "app" / "tool.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "app" / "app" / "data" / "words.txt").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("name", ["../evil.py", "/abs/evil.py", "app/../../evil.py"])
def test_unpack_refuses_paths_that_leave_the_folder(tmp_path: Path, name: str) -> None:
    wheel = _wheel(tmp_path / "bad-1.0-py3-none-any.whl", {name: b""})
    with pytest.raises(KilnError, match="unsafe path"):
        unpack_app_wheel(wheel, tmp_path / "app")
    assert not (tmp_path / "evil.py").exists()


def test_remove_distribution_takes_out_its_files_and_folders_only(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    files = {
        "tally/__init__.py": "", "tally/cli.py": "", "tally/sub/x.txt": "", "shared/tally_part.py": "",
        "shared/other_part.py": "", "click/__init__.py": "",
        "tally-1.0.dist-info/METADATA": "Name: tally\n", "click-8.0.dist-info/METADATA": "Name: click\n",
    }
    for name, text in files.items():
        (packages / name).parent.mkdir(parents=True, exist_ok=True)
        (packages / name).write_text(text)
    (packages / "tally-1.0.dist-info" / "RECORD").write_text(
        "tally/__init__.py,sha256=x,0\ntally/cli.py,,\ntally/sub/x.txt,,\nshared/tally_part.py,,\n"
        "tally-1.0.dist-info/METADATA,,\ntally-1.0.dist-info/RECORD,,\n../../bin/tally,,\n../outside.txt,,\n")
    (tmp_path / "outside.txt").write_text("not the app's to remove")
    remove_distribution(packages, "Tally")
    left = sorted(p.relative_to(packages).as_posix() for p in packages.rglob("*"))
    assert left == ["click", "click-8.0.dist-info", "click-8.0.dist-info/METADATA", "click/__init__.py", "shared",
                    "shared/other_part.py"]
    assert (tmp_path / "outside.txt").exists()
