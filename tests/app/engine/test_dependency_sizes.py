"""Sizes by distribution: wheels that share a folder (PySide6, PySide6_Essentials, PySide6_Addons) are told apart."""

from __future__ import annotations

from pathlib import Path

from kiln.engine.payload import dependency_sizes


def _dist(packages: Path, name: str, files: dict[str, int]) -> None:
    info = packages / f"{name}-6.0.dist-info"
    info.mkdir(parents=True)
    for relative, size in files.items():
        path = packages / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    (info / "RECORD").write_text("".join(f"{r},sha256=x,{s}\n" for r, s in files.items())
                                 + f"{info.name}/RECORD,,\n", encoding="utf-8")


def test_distributions_sharing_a_folder_each_get_their_share(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    _dist(packages, "PySide6", {"PySide6/__init__.py": 100})
    _dist(packages, "PySide6_Essentials", {"PySide6/QtCore.abi3.so": 5000, "PySide6/Qt/lib/libQt6Core.so.6": 20000})
    _dist(packages, "PySide6_Addons", {"PySide6/QtWebEngineCore.abi3.so": 70000,
                                       "PySide6/Qt/lib/libQt6WebEngineCore.so.6": 900000})
    _dist(packages, "shiboken6", {"shiboken6/__init__.py": 300, "shiboken6/Shiboken.abi3.so": 4000})
    (packages / "PySide6" / "__pycache__").mkdir()
    (packages / "PySide6" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"c" * 50)  # compiled later
    (packages / "PySide6" / "stray.txt").write_bytes(b"s" * 7)  # in no RECORD: its folder's first owner
    sizes = dependency_sizes(packages)
    assert sizes["PySide6_Addons"] >= 970000 and sizes["PySide6_Addons"] < 980000
    assert 25000 <= sizes["PySide6_Essentials"] < 26000
    assert sizes["shiboken6"] >= 4300
    assert 157 <= sizes["PySide6"] < 1000  # its own file, its bytecode and the stray file
    assert next(iter(sizes)) == "PySide6_Addons"  # biggest first
