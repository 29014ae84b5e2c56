"""The file types a macOS app opens: `[[association]]` as CFBundleDocumentTypes and exported types in Info.plist.

Launch Services reads both when the app is copied to a Mac: the exported type declaration (UTExportedTypeDeclarations)
names the type (`<bundle id>.<extension>`, conforming to public.data) with its extension and MIME type, and the
document type says this app is its owner, with the icon Finder shows for such files.
"""

from __future__ import annotations

import plistlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiln.model.associations import Association, document_icon
from kiln.support.icons import load_icon, write_icns

_UTI_PART_RE = re.compile(r"[^A-Za-z0-9.-]")


def type_identifier(bundle_id: str, association: Association) -> str:
    """The exported type's identifier: `<bundle id>.<extension>` (a UTI allows only A-Z a-z 0-9 - .)."""
    return f"{bundle_id}.{_UTI_PART_RE.sub('-', association.extension.lower())}"


def document_types(bundle_id: str, associations: Sequence[Association],
                   icon_files: dict[str, str]) -> dict[str, Any]:
    """The Info.plist keys for `associations`; `icon_files` maps an extension to its .icns in Resources."""
    documents: list[dict[str, Any]] = []
    exported: list[dict[str, Any]] = []
    for association in associations:
        uti = type_identifier(bundle_id, association)
        documents.append({
            "CFBundleTypeName": association.description,
            "CFBundleTypeRole": "Editor",
            "LSHandlerRank": "Owner",
            "LSItemContentTypes": [uti],
            "CFBundleTypeExtensions": [association.extension],
            "CFBundleTypeMIMETypes": [association.mime],
            "CFBundleTypeIconFile": icon_files[association.extension],
        })
        exported.append({
            "UTTypeIdentifier": uti,
            "UTTypeDescription": association.description,
            "UTTypeConformsTo": ["public.data"],
            "UTTypeIconFile": icon_files[association.extension],
            "UTTypeTagSpecification": {"public.filename-extension": [association.extension],
                                       "public.mime-type": [association.mime]},
        })
    return {"CFBundleDocumentTypes": documents, "UTExportedTypeDeclarations": exported} if documents else {}


def add_document_types(app_dir: Path, associations: Sequence[Association], base_dir: Path,
                       app_icon: Path | None) -> None:
    """Write each association's icon into Contents/Resources and its keys into Contents/Info.plist."""
    if not associations:
        return
    contents = app_dir / "Contents"
    plist_path = contents / "Info.plist"
    plist = plistlib.loads(plist_path.read_bytes())
    icon_files: dict[str, str] = {}
    for association in associations:
        name = f"document-{_UTI_PART_RE.sub('-', association.extension.lower())}.icns"
        write_icns(load_icon(document_icon(association, base_dir, app_icon)), contents / "Resources" / name)
        (contents / "Resources" / name).chmod(0o644)
        icon_files[association.extension] = name
    plist.update(document_types(plist["CFBundleIdentifier"], associations, icon_files))
    plist_path.write_bytes(plistlib.dumps(plist, sort_keys=True))
