"""Signing the .app and the DMG from Linux, with apple-platform-py (a wrapper around apple-codesign, "rcodesign").

Ad hoc (no certificate): every Mach-O file without a signature that holds is signed ad hoc; files whose signature
holds (python-build-standalone's interpreter, the linker signatures of arm64 wheels, a vendor's Developer ID) are
kept as they are. Then the bundle: the main executable is signed with the bundle identifier, binding Info.plist, and
every file of the app is sealed in Contents/_CodeSignature/CodeResources.

Developer ID (`[installer.signing] certificate`): every Mach-O file and the bundle are signed with the certificate,
hardened runtime on, the entitlements on each executable, a secure timestamp from Apple when it can be reached; the
finished DMG is signed too.

After signing, `check_app` reads everything back with Kiln's own Mach-O reader: every page hash, the main
executable's Info.plist and CodeResources slots, and every file's hash in the seal.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.parsers.expat import ExpatError

from kiln.installers.dmg.macho import (
    MH_EXECUTE,
    SPECIAL_INFO,
    SPECIAL_RESOURCES,
    MachO,
    MachOError,
    SliceCheck,
    binds_bundle,
    check_file,
    has_macho_magic,
    overall_state,
)
from kiln.installers.dmg.options import PKCS12_SUFFIXES, DmgSigning
from kiln.support.errors import KilnError

if TYPE_CHECKING:
    import apple_platform

DEFAULT_ENTITLEMENTS: dict[str, Any] = {
    # ctypes and cffi callbacks write trampolines into memory they then run (libffi closures).
    "com.apple.security.cs.allow-unsigned-executable-memory": True,
    # Library validation would let the interpreter load only code signed by Apple or by the app's own team; this
    # lets it load the bundle's own .so/.dylib files whatever signed them (a vendor's kept signature, ad hoc).
    "com.apple.security.cs.disable-library-validation": True,
}
"""Entitlements of the app's executables under the hardened runtime, unless the project names its own file."""
HARDENED_RUNTIME = "runtime"
GOOD_STATES = ("ad hoc", "certificate", "Developer ID")
SEAL_OMITTED = ("Info.plist", "PkgInfo")  # bound through the main executable's Info slot, or not sealed (rules2)

@dataclass(frozen=True)
class Identity:
    """A Developer ID Application certificate with its key, as `[installer.signing]` names them."""

    certificate: Path
    key: Path | None
    password_env: str
    password: str | None = field(default=None, repr=False)

    def signer(self) -> apple_platform.Signer:
        import apple_platform as ap

        if self.certificate.suffix.lower() in PKCS12_SUFFIXES:
            return ap.Signer(p12=ap.P12Key(path=self.certificate, password=self.password or ""))
        return ap.Signer(pem=ap.PemKey(files=[self.certificate, *([self.key] if self.key else [])]))


@dataclass(frozen=True)
class MachOFile:
    """One Mach-O file of the app, with what Kiln's reader found."""

    relpath: str  # from the .app folder, e.g. Contents/Resources/app-bundle/runtime/bin/python3.11
    path: Path
    macho: MachO | None
    checks: tuple[SliceCheck, ...]
    problem: str = ""  # why it cannot be read as Mach-O, or signed

    @property
    def state(self) -> str:
        return "unreadable" if self.problem else overall_state(list(self.checks))

    @property
    def executable(self) -> bool:
        return self.macho is not None and any(s.filetype == MH_EXECUTE for s in self.macho.slices)


@dataclass(frozen=True)
class SigningReport:
    mode: str  # "ad hoc" or "Developer ID"
    signed: int
    kept: int
    not_signable: tuple[str, ...]  # "relpath (why)": files that look like Mach-O but cannot be signed
    timestamped: bool


def signing_identity(signing: DmgSigning, base_dir: Path) -> Identity | None:
    """The identity `signing` names (None: ad hoc); checks the files exist and a PEM has its key."""
    if not signing.certificate:
        return None
    certificate = base_dir / signing.certificate
    key = base_dir / signing.key if signing.key else None
    for what, path in (("certificate", certificate), ("key", key)):
        if path is not None and not path.is_file():
            raise KilnError(f"installer.signing.{what}: {path} does not exist", hint="fix the path in kiln.toml")
    pkcs12 = certificate.suffix.lower() in PKCS12_SUFFIXES
    if not pkcs12 and key is None and b"PRIVATE KEY-----" not in certificate.read_bytes():
        raise KilnError(f"{certificate.name} holds no private key and installer.signing.key is empty",
                        hint="name the unencrypted PEM key in signing.key, or use a .p12/.pfx file")
    password = os.environ.get(signing.password_env) if signing.password_env else None
    return Identity(certificate, key, signing.password_env, password or None)


def entitlements_file(signing: DmgSigning, base_dir: Path, work_dir: Path) -> Path:
    """The project's entitlements plist (checked), or Kiln's defaults written to `work_dir`."""
    if signing.entitlements:
        path = base_dir / signing.entitlements
        try:
            if not isinstance(plistlib.loads(path.read_bytes()), dict):
                raise ValueError("its top level is not a dictionary")
        except (OSError, ValueError, ExpatError, plistlib.InvalidFileException) as e:
            raise KilnError(f"installer.signing.entitlements: {path} is not a usable entitlements plist ({e})",
                            hint="an XML plist whose top level is a <dict> of entitlement keys") from None
        return path
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "entitlements.plist"
    path.write_bytes(plistlib.dumps(DEFAULT_ENTITLEMENTS, sort_keys=True))
    return path


def find_macho_files(app_dir: Path) -> list[MachOFile]:
    """Every regular file of the app with a Mach-O magic number, read and checked (symlinks are not followed); those
    that cannot be read or signed carry a `problem`."""
    found = []
    for folder, dirs, files in os.walk(app_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_symlink():
                continue
            with path.open("rb") as f:
                if not has_macho_magic(f.read(4)):  # a file the signing library would try to sign
                    continue
            relpath = path.relative_to(app_dir).as_posix()
            try:
                macho, checks = check_file(path)
            except (MachOError, ValueError) as e:
                found.append(MachOFile(relpath, path, None, (), str(e) or "unreadable"))
                continue
            if not all(piece.signable for piece in macho.slices):
                found.append(MachOFile(relpath, path, macho, tuple(checks), "no __LINKEDIT segment to sign"))
                continue
            found.append(MachOFile(relpath, path, macho, tuple(checks)))
    return found


def _glob_escape(relpath: str) -> str:
    """A path as a literal glob pattern for the signing library's `exclude` (Rust glob: ? * [ ] are special)."""
    return "".join(f"[{c}]" if c in "?*[]" else c for c in relpath)


def main_executable(app_dir: Path) -> Path:
    plist = plistlib.loads((app_dir / "Contents" / "Info.plist").read_bytes())
    return app_dir / "Contents" / "MacOS" / str(plist["CFBundleExecutable"])


def sign_app(app_dir: Path, identifier: str, identity: Identity | None, entitlements: Path | None,
             timestamp: bool) -> SigningReport:
    """Sign every Mach-O file of `app_dir` that needs it, then the bundle; see the module's docstring."""
    import apple_platform as ap

    main = main_executable(app_dir).relative_to(app_dir).as_posix()
    files = [f for f in find_macho_files(app_dir) if f.relpath != main]
    exclude, paths = [], {}
    kept = 0
    for item in files:
        if item.problem:  # reported by the caller; the signing library would stop on it
            exclude.append(_glob_escape(item.relpath))
        elif identity is None and item.state in GOOD_STATES:
            kept += 1
            exclude.append(_glob_escape(item.relpath))
        elif identity is not None:
            paths[item.relpath] = ap.PathSettings(
                code_signature_flags=[HARDENED_RUNTIME],
                entitlements_xml_file=entitlements if item.executable else None)
    main_settings = _main_settings(ap, identifier, identity, entitlements)
    _sign(ap, app_dir, identity, timestamp, {"@main": main_settings, **paths}, exclude, f"signing {app_dir.name}")
    not_signable = tuple(f"{f.relpath} ({f.problem})" for f in files if f.problem)
    return SigningReport("Developer ID" if identity else "ad hoc", len(files) - kept - len(not_signable) + 1, kept,
                         not_signable, identity is not None and timestamp)


def reseal_app(app_dir: Path, identifier: str, identity: Identity | None, entitlements: Path | None,
               timestamp: bool) -> None:
    """Sign the bundle again, its nested code left as `sign_app` signed it: the seal then covers a file added to the
    signed app since (the SBOM, which names the nested code by the hashes of its signed bytes)."""
    import apple_platform as ap

    main = main_executable(app_dir).relative_to(app_dir).as_posix()
    nested = [_glob_escape(f.relpath) for f in find_macho_files(app_dir) if f.relpath != main]
    _sign(ap, app_dir, identity, timestamp, {"@main": _main_settings(ap, identifier, identity, entitlements)},
          nested, f"sealing {app_dir.name}")


def _main_settings(ap: Any, identifier: str, identity: Identity | None, entitlements: Path | None) -> Any:
    if identity is None:
        return ap.PathSettings(binary_identifier=identifier)
    return ap.PathSettings(binary_identifier=identifier, code_signature_flags=[HARDENED_RUNTIME],
                           entitlements_xml_file=entitlements)


def sign_dmg(dmg: Path, identifier: str, identity: Identity, timestamp: bool) -> None:
    """Sign the finished disk image in place (the signature goes between the plist and the koly trailer)."""
    import apple_platform as ap

    _sign(ap, dmg, identity, timestamp, {"@main": ap.PathSettings(binary_identifier=identifier)}, [],
          "signing the disk image")


def _sign(ap: Any, target: Path, identity: Identity | None, timestamp: bool, paths: dict[str, Any],
          exclude: list[str], what: str) -> None:
    signer = identity.signer() if identity else None
    try:
        ap.sign(target, signer=signer, paths=paths, exclude=exclude,
                timestamp_url=None if identity and timestamp else "none", for_notarization=bool(identity and timestamp))
    except ap.ApplePlatformError as e:
        detail = "; ".join([str(e), *e.source[:3]])
        raise KilnError(f"{what} failed: {detail}", hint=_hint(ap, e, identity)) from None


def _hint(ap: Any, error: Exception, identity: Identity | None) -> str:
    key_problem = isinstance(error, (ap.errors.PrivateKeyError, ap.errors.CertificateError,
                                     ap.errors.InteractiveInputRequiredError))
    if identity is None or not key_problem:
        return "see the build log; a file the signing library cannot read may be the cause"
    if identity.certificate.suffix.lower() not in PKCS12_SUFFIXES:
        return "check the PEM certificate and its key (an unencrypted PEM private key)"
    unset = " (it is not set)" if identity.password is None else ""
    return (f"check the .p12 password in the environment variable {identity.password_env}{unset}; a .p12 written "
            "by OpenSSL 3 must be exported with `openssl pkcs12 -export -legacy ...` (the signing library reads "
            "only the classic 3DES/SHA-1 encryption), or use the PEM certificate and key")


def seal_problems(app_dir: Path) -> list[str]:
    """Files of the app that Contents/_CodeSignature/CodeResources does not seal, or seals with another hash."""
    contents = app_dir / "Contents"
    try:
        seal = plistlib.loads((contents / "_CodeSignature" / "CodeResources").read_bytes())["files2"]
    except (OSError, KeyError, ValueError, ExpatError, plistlib.InvalidFileException) as e:
        return [f"no readable CodeResources ({e})"]
    try:
        main = main_executable(app_dir).relative_to(contents).as_posix()
    except (OSError, KeyError, ValueError, ExpatError, plistlib.InvalidFileException) as e:
        return [f"no readable Info.plist naming the main executable ({e})"]
    problems = []
    for folder, _, names in os.walk(contents):
        for name in names:
            path = Path(folder, name)
            rel = path.relative_to(contents).as_posix()
            if rel in SEAL_OMITTED or rel == main or rel.startswith("_CodeSignature/"):
                continue
            entry = seal.get(rel)
            if not isinstance(entry, dict):
                problems.append(f"{rel} is not sealed")
            elif path.is_symlink():
                if entry.get("symlink") != os.readlink(path):
                    problems.append(f"{rel}: the sealed link target differs")
            elif entry.get("hash2") != hashlib.sha256(path.read_bytes()).digest():
                problems.append(f"{rel}: the sealed hash differs")
    return problems


def check_main(app_dir: Path) -> MachOFile:
    """The main executable, its signature checked with the Info.plist and CodeResources it binds."""
    contents = app_dir / "Contents"
    main = main_executable(app_dir)
    outside = {SPECIAL_INFO: (contents / "Info.plist").read_bytes()}
    seal = contents / "_CodeSignature" / "CodeResources"
    if seal.is_file():
        outside[SPECIAL_RESOURCES] = seal.read_bytes()
    relpath = main.relative_to(app_dir).as_posix()
    try:
        macho, checks = check_file(main, outside)
    except (OSError, MachOError) as e:
        return MachOFile(relpath, main, None, (), str(e))
    return MachOFile(relpath, main, macho, tuple(checks))


def check_app(app_dir: Path, identity: Identity | None) -> list[str]:
    """What is wrong with the signed app, read back by Kiln's reader ([] when every signature holds)."""
    problems = seal_problems(app_dir)
    main = check_main(app_dir)
    if main.problem:
        return [*problems, f"the main executable: {main.problem}"]
    if main.macho is not None and not all(s.signature and binds_bundle(s.signature) for s in main.macho.slices):
        problems.append(f"{main.relpath}: its signature does not bind Info.plist and the seal")
    items = [main, *(f for f in find_macho_files(app_dir) if f.path != main.path and not f.problem)]
    wanted = ("certificate", "Developer ID") if identity else GOOD_STATES
    for item in items:
        for check in item.checks:
            if check.state not in wanted:
                problems.append(f"{item.relpath}: {check.state}" + (f" ({'; '.join(check.problems)})"
                                                                    if check.problems else ""))
            elif identity and not check.hardened_runtime:
                problems.append(f"{item.relpath}: the hardened runtime is off")
    return problems
