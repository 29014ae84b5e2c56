"""Kiln's Mach-O reader (macho.py, cms.py) on real files: markupsafe's macOS modules, re-signed with a self-made
certificate; lief and the tests' own hashing (kit.macos.recompute_signatures) are the second readers."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import lief
import pytest
from kit.macos import COMMON_NAME, TEAM, Certificate, recompute_signatures

from kiln.installers.dmg.cms import CmsError, cms_summary, oid, parse
from kiln.installers.dmg.macho import (
    CS_ADHOC,
    CS_LINKER_SIGNED,
    MH_BUNDLE,
    MachOError,
    check_file,
    is_macho,
    overall_state,
    parse_macho,
    read_macho,
)


def sign(path: Path, certificate: Certificate | None, runtime: bool = True) -> None:
    import apple_platform as ap

    signer = ap.Signer(pem=ap.PemKey(files=[certificate.pem, certificate.key])) if certificate else None
    ap.sign(path, signer=signer, timestamp_url="none", code_signature_flags=["runtime"] if runtime else None)


def test_a_thin_module_with_its_linker_signature(modules: dict[str, Path]) -> None:
    path = modules["arm64"]
    macho, checks = check_file(path)
    assert not macho.universal and macho.archs == ("arm64",) and macho.size == path.stat().st_size
    (piece,) = macho.slices
    assert piece.filetype == MH_BUNDLE and piece.kind == "bundle" and piece.bits == 64
    assert piece.signature is not None and piece.signature.flags & (CS_ADHOC | CS_LINKER_SIGNED)
    assert checks[0].state == "ad hoc" and not checks[0].problems and not checks[0].hardened_runtime
    # lief reads the same load commands and finds the signature where Kiln does.
    binary = lief.MachO.parse(str(path)).at(0)  # type: ignore[union-attr]
    assert [c.cmd for c in piece.load_commands] == [int(c.command) for c in binary.commands]
    assert [c.size for c in piece.load_commands] == [c.size for c in binary.commands]
    assert (piece.signature.offset, piece.signature.size) == (binary.code_signature.data_offset,
                                                             binary.code_signature.data_size)
    assert bytes(binary.code_signature.content) == path.read_bytes()[piece.signature.offset:][:piece.signature.size]
    (recomputed,) = recompute_signatures(path)
    assert recomputed.pages == recomputed.pages_matching == len(piece.signature.code_directories[0].code_hashes)


def test_a_universal_module_with_one_unsigned_slice(modules: dict[str, Path]) -> None:
    macho, checks = check_file(modules["universal2"])
    assert macho.universal and macho.archs == ("x86_64", "arm64")
    assert [c.state for c in checks] == ["none", "ad hoc"]
    assert overall_state(checks) == "none"
    fat = lief.MachO.parse(str(modules["universal2"]))
    assert fat is not None and [b.fat_offset for b in fat] == [s.offset for s in macho.slices]


def test_one_changed_byte_breaks_the_signature(modules: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "changed.so"
    data = bytearray(modules["arm64"].read_bytes())
    data[5000] ^= 0xFF  # inside the second 4 KiB page
    path.write_bytes(data)
    _, checks = check_file(path)
    assert checks[0].state == "broken" and "page hashes differ (first: page 1)" in checks[0].problems[0]
    (recomputed,) = recompute_signatures(path)
    assert recomputed.pages_matching == recomputed.pages - 1


def test_ad_hoc_and_certificate_signatures_are_told_apart(modules: dict[str, Path], tmp_path: Path,
                                                          certificates: dict[str, Certificate]) -> None:
    for name, certificate, state in [("adhoc.so", None, "ad hoc"), ("devid.so", certificates["developer-id"],
                                      "Developer ID"), ("other.so", certificates["other"], "certificate")]:
        path = tmp_path / name
        shutil.copy(modules["universal2"], path)
        sign(path, certificate)
        _, checks = check_file(path)
        assert [c.state for c in checks] == [state, state], checks
        assert all(c.hardened_runtime for c in checks)
        for recomputed in recompute_signatures(path):
            assert recomputed.pages == recomputed.pages_matching
            assert bool(recomputed.cms) == (certificate is not None)
        if certificate is not None:
            assert checks[0].signer == (COMMON_NAME if state == "Developer ID" else "Apple Development: Someone")
            assert checks[0].team_id == TEAM


def test_a_cms_signature_of_another_file_is_broken(modules: dict[str, Path], tmp_path: Path,
                                                   certificates: dict[str, Certificate]) -> None:
    one, two = tmp_path / "one.so", tmp_path / "two.so"
    shutil.copy(modules["arm64"], one)
    shutil.copy(modules["arm64"], two)
    sign(one, certificates["developer-id"])
    sign(two, certificates["developer-id"], runtime=False)  # another CodeDirectory, same size of CMS blob
    cms_one = recompute_signatures(one)[0].cms
    cms_two = recompute_signatures(two)[0].cms
    assert len(cms_one) == len(cms_two) and cms_one != cms_two
    data = bytearray(two.read_bytes())
    at = bytes(data).index(cms_two)
    data[at:at + len(cms_two)] = cms_one
    two.write_bytes(data)
    _, checks = check_file(two)
    assert checks[0].state == "broken" and "does not sign this CodeDirectory" in checks[0].problems[-1]


@pytest.mark.parametrize(
    "head, expected",
    [(b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01", True), (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", True),
     (b"\xca\xfe\xba\xbe\x00\x00\x00\x34", False), (b"\x7fELF\x02\x01\x01\x00", False), (b"#!/bin/sh", False),
     (b"\xcf\xfa\xed", False)],
    ids=["thin-64", "universal", "java-class", "elf", "script", "short"],
)
def test_what_looks_like_macho(head: bytes, expected: bool) -> None:
    assert is_macho(head) is expected


@pytest.mark.parametrize(
    "data, message",
    [(b"\xcf\xfa\xed\xfe not really a dylib", "cut short"),
     (b"\xcf\xfa\xed\xfe" + struct.pack("<iIIII", 0x0100000C, 0, 6, 1, 4096) + bytes(8), "past the end"),
     (b"\xca\xfe\xba\xbe" + struct.pack(">IiiIII", 1, 0x0100000C, 0, 4096, 4096, 12), "outside the file"),
     (b"just text, not a Mach-O file", "not a Mach-O file")],
    ids=["short-header", "commands-past-end", "slice-outside", "text"],
)
def test_unreadable_files_are_an_error_not_a_crash(data: bytes, message: str, tmp_path: Path) -> None:
    with pytest.raises(MachOError, match=message):
        parse_macho(data)
    (tmp_path / "f").write_bytes(data)
    with pytest.raises(MachOError):
        read_macho(tmp_path / "f")


def test_cms_reader_takes_ber_indefinite_lengths_and_refuses_garbage() -> None:
    # SEQUENCE (indefinite) { OID 1.2.840.113549.1.7.2, [0] (indefinite) { SEQUENCE {} } }
    signed_data_oid = bytes.fromhex("06092a864886f70d010702")
    ber = b"\x30\x80" + signed_data_oid + b"\xa0\x80\x30\x00\x00\x00\x00\x00"
    node, end = parse(ber)
    assert end == len(ber) and oid(node.children[0]) == "1.2.840.113549.1.7.2"
    assert node.children[1].children[0].tag == 0x30
    for garbage in (b"", b"\x30\x05\x01", b"\x30\x84\xff\xff\xff\xff", bytes(range(40))):
        with pytest.raises(CmsError):
            cms_summary(garbage)
