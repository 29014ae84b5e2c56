"""`[[association]]` in an AppImage: the desktop entry's MimeType= and %F, a shared-mime-info package and document
icons in the AppDir, read back with unsquashfs, desktop-file-validate and update-mime-database."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kit import appimage as T
from kit.testing import find_tool as need
from PIL import Image

from kiln.installers.appimage.installer import AppImageInstaller
from kiln.installers.appimage.mime import mime_package
from kiln.installers.appimage.options import AppImageOptions
from kiln.kinds.contract import BuildContext
from kiln.model.associations import Association
from kiln.model.project import Project
from kiln.support.errors import KilnError

ASSOCIATIONS = [
    {"extension": "tally", "description": 'Tally <document> & "more"', "icon": "doc.png"},
    {"extension": "knote", "description": "Kiln note", "mime_type": "text/x-kiln-note"},
]


def build(root: Path, associations: list[dict[str, str]]) -> Path:
    staged = T.tiny_staged(root)
    Image.new("RGBA", (64, 64), (200, 30, 30, 255)).save(root / "doc.png")
    project = Project.model_validate({"app": staged.app.model_dump(), "entry": staged.entry.model_dump(),
                                      "association": associations})
    ctx = BuildContext(project=project, base_dir=root, work_dir=root / "work", cache_dir=root / "cache",
                       reporter=T.Recorder())
    installer = AppImageInstaller(AppImageOptions())
    out = root / "out" / installer.artifact_name(staged)
    installer.build(ctx, staged, out)
    return out


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("mksquashfs")
    return build(tmp_path_factory.mktemp("assoc"), ASSOCIATIONS)


def test_desktop_entry_lists_the_types_and_takes_files(image: Path, tmp_path: Path) -> None:
    desktop = tmp_path / "org.example.tiny.desktop"
    desktop.write_bytes(T.cat(image, "org.example.tiny.desktop"))
    result = subprocess.run([need("desktop-file-validate"), str(desktop)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    lines = desktop.read_text(encoding="utf-8").splitlines()
    assert "MimeType=application/x-tally;text/x-kiln-note;" in lines
    assert "Exec=tiny %F" in lines


def test_mime_package_is_read_by_update_mime_database(image: Path, tmp_path: Path) -> None:
    listing = T.listing(image)
    assert "usr/share/mime/packages/org.example.tiny.xml" in listing
    mime = tmp_path / "mime"
    (mime / "packages").mkdir(parents=True)
    package = T.cat(image, "usr/share/mime/packages/org.example.tiny.xml")
    (mime / "packages" / "org.example.tiny.xml").write_bytes(package)
    env = {"PATH": "/usr/bin:/bin", "XDG_DATA_DIRS": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run([need("update-mime-database"), str(mime)], capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr  # no complaint about the XML
    globs = (mime / "globs2").read_text(encoding="utf-8").splitlines()
    assert "50:application/x-tally:*.tally" in globs and "50:text/x-kiln-note:*.knote" in globs
    declared = (mime / "application" / "x-tally.xml").read_text(encoding="utf-8")
    assert "<comment>Tally &lt;document&gt; &amp; \"more\"</comment>" in declared
    assert '<icon name="application-x-tally"/>' in declared
    icons = (mime / "icons").read_text(encoding="utf-8").splitlines()
    assert "application/x-tally:application-x-tally" in icons


def test_document_icons_in_hicolor_mimetypes(image: Path, tmp_path: Path) -> None:
    listing = T.listing(image)
    for name in ("application-x-tally", "text-x-kiln-note"):
        assert f"usr/share/icons/hicolor/256x256/mimetypes/{name}.png" in listing
    own = tmp_path / "own.png"
    own.write_bytes(T.cat(image, "usr/share/icons/hicolor/48x48/mimetypes/application-x-tally.png"))
    with Image.open(own) as icon:
        assert icon.size == (48, 48) and icon.convert("RGBA").getpixel((24, 24))[:3] == (200, 30, 30)


def test_no_associations_no_mime_files(tmp_path: Path) -> None:
    need("mksquashfs")
    plain = build(tmp_path, [])
    assert not [p for p in T.listing(plain) if "mime" in p]
    assert "MimeType" not in T.cat(plain, "org.example.tiny.desktop").decode()


def test_missing_association_icon_is_a_kiln_error(tmp_path: Path) -> None:
    need("mksquashfs")
    with pytest.raises(KilnError, match=r"missing\.png"):
        build(tmp_path, [{"extension": "x1", "description": "X", "icon": "missing.png"}])


def test_mime_package_escapes_xml() -> None:
    text = mime_package([Association(extension="a", description="<&>")]).decode()
    assert "<comment>&lt;&amp;&gt;</comment>" in text and 'type="application/x-a"' in text
