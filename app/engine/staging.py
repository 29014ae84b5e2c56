"""Lays out the app for one target: runtime, dependencies and payload in one bundle folder."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiln.engine import check_stage
from kiln.engine import dependencies as deps
from kiln.engine.app_layer import unpack_app_wheel
from kiln.engine.installed_cache import Bytecode, install_reusing
from kiln.engine.payload import (
    boot_script,
    copy_script,
    copy_sources,
    dependency_sizes,
    drop_install_records,
    file_owners,
    imports_tkinter,
    remove_unshipped,
    runtime_site_packages,
    write_bundle_site,
)
from kiln.engine.qt_prune import prune_bundle_qt
from kiln.engine.report import BuildReport
from kiln.engine.sources import describe, keep_for
from kiln.kinds.contract import StagedApp
from kiln.model import pylock
from kiln.model.project import Project
from kiln.runtimes.base import Runtime, RuntimeProvider
from kiln.runtimes.prune import drop_tkinter
from kiln.source.app_wheel import (
    build_app_wheel,
    builds_wheel,
    read_app_metadata,
    require_wheel_serves,
    wheel_top_levels,
)
from kiln.source.checks import inline_metadata_warnings
from kiln.source.command import command_name
from kiln.source.entry_checks import installed_entry_problems
from kiln.source.package_data import complete_wheel
from kiln.support import tools
from kiln.support.bytecode import Compiled, Keep, compile_tree, finish_tree
from kiln.support.errors import ProjectInvalid
from kiln.support.links import link_tree
from kiln.support.sizes import tree_size
from kiln.support.targets import Target

StageEnter = Callable[[str, str], AbstractContextManager[Any]]


def runtime_provider(project: Project, base_dir: Path, lock_dir: Path | None = None) -> RuntimeProvider:
    """The provider for `[python] source`; "auto" uses the host interpreter for Linux when the versions match.

    The [dependencies] index settings and Kiln's lock (in `lock_dir`) also serve the runtime from the package index
    ("embed").
    """
    from kiln.runtimes.host import HostRuntimeProvider
    from kiln.runtimes.select import provider_for

    host_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    host_platforms = ("linux-x86_64",) if project.python.version == host_version else ()
    return provider_for(project.python.source, base_dir, HostRuntimeProvider(), host_platforms=host_platforms,
                        index_args=deps.index_args(project.dependencies, base_dir), lock_dir=lock_dir)


def stage_app(
    project: Project, base_dir: Path, target: Target, work_dir: Path, cache_dir: Path,
    enter: StageEnter, report: BuildReport, lock_dir: Path | None = None, installers: tuple[str, ...] = (),
    check: bool = True, parallel: bool = False,
) -> StagedApp:
    """The bundle for `target`. `lock_dir` is the folder of Kiln's lock files (the project file's), None: no lock.

    With `check`, a `check` stage follows the payload (kiln.engine.check_stage) and raises BundleCheckFailed when the
    bundle lacks what the app imports; `installers` are the kinds of the target, named in the check's findings.

    With `parallel` (the engine's `enter` is thread-safe), the runtime is prepared on a second thread while the
    dependencies are installed: neither needs the other until the dependencies are compiled to bytecode with the
    runtime's interpreter."""
    bundle = work_dir / "bundle"
    bundle.mkdir(parents=True)
    version = project.python.version

    def prepare_runtime(started: threading.Event) -> Runtime:
        with enter("runtime", f"preparing Python {version} for {target.name}") as stage:
            started.set()
            provider = runtime_provider(project, base_dir, lock_dir)
            runtime: Runtime = provider.provide(target, version, cache_dir, stage.progress)
            link_tree(runtime.root, bundle / "runtime")
            report.runtimes[target.name] = {
                "source": runtime.source, "full_version": runtime.full_version, "reused": runtime.reused,
                "notes": list(runtime.notes),
                "archive": {"name": runtime.archive, "sha256": runtime.archive_sha256, "url": runtime.archive_url},
            }
            for note in runtime.notes:
                stage.log(note)
            for warning in runtime.warnings:
                stage.warn(warning)
        return runtime

    started = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="kiln-runtime") as pool:
        pending: Future[Runtime]
        if parallel:
            pending = pool.submit(prepare_runtime, started)
            while not started.wait(0.05) and not pending.done():
                pass  # the runtime's stage-start comes first, as in a sequential build
        else:
            pending = Future()
            pending.set_result(prepare_runtime(started))
        app_wheel, precompiled = _dependencies(project, base_dir, target, work_dir, cache_dir, enter, report,
                                               lock_dir, pending)
        runtime = tools.result_of(pending)  # the runtime's own error, if it failed
    # Bytecode must come from the target's own Python version; a foreign-OS runtime cannot run here.
    compiler = runtime.python if target.os == "linux" else None
    can_compile = compiler is not None or version == f"{sys.version_info.major}.{sys.version_info.minor}"
    root = base_dir / project.source.root
    packages, app_dir = bundle / "packages", bundle / "app"
    with enter("payload", "copying and compiling the app") as stage:
        app_dir.mkdir()
        if app_wheel is None:
            files, companions = copy_sources(root, project.source, app_dir)
            stage.progress(0.3, f"{len(files)} files copied")
            if not report.added:  # the same for every target: said once
                report.added = companions.reasons()
                if companions.beside():
                    _note(stage, companions.beside())
                if companions.named_warning():
                    stage.warn(companions.named_warning())
        else:  # the app's own wheel is the app layer (kiln.engine.app_layer)
            unpack_app_wheel(app_wheel, app_dir)
            if project.entry.script:  # a project started by a script of its folder: it ships beside the wheel
                copy_script(root, project.entry.script, app_dir)
        problems = installed_entry_problems(project.entry, app_dir, packages)
        if problems:
            raise ProjectInvalid(f"[entry] checked against the bundle for {target.name}", problems)
        own = wheel_top_levels(app_wheel) if app_wheel is not None else frozenset()
        own_name = read_app_metadata(app_wheel).name if app_wheel is not None else ""
        command, why = command_name(project.entry, project.app.name, (app_dir, packages), own_name)
        if why:
            stage.log(f"the app's command is {command} ({why})")
        _keep_tkinter_only_if_used(bundle, target, own if check else None, stage)
        qt = prune_bundle_qt(packages, project.dependencies, target.os, stage)
        if qt is not None:
            report.qt[target.name] = qt.as_dict()
        write_bundle_site(runtime_site_packages(bundle / "runtime", target.os, version))
        (bundle / "kiln_boot.py").write_text(boot_script(project.entry), encoding="utf-8")
        analysis = check_stage.analyse(bundle, target, project, own, qt) if check else None
        if can_compile:
            setting = project.build.keep_sources
            if precompiled is not None:
                finish_tree(packages, precompiled)
                _warn_uncompiled(packages, [f for f in precompiled.failed if (packages / f).exists()], stage)
                needed = precompiled.reasons
            else:
                keep, needed = keep_for(setting, packages, own)
                _compile(compiler, packages, keep, project, stage)
            _compile(compiler, app_dir, setting is not False, project, stage)
            _say_sources(setting, needed, report, stage)
        else:
            stage.warn(f"Python {version} for {target.name} cannot run here: the app ships as sources")
        owners = file_owners(packages)  # before drop_install_records: it reads RECORD
        dependency_size = dependency_sizes(packages, owners)
        drop_install_records(packages)
    if analysis is not None:
        with enter("check", f"checking the bundle for {target.name}") as stage:
            bundled_python = bundle / "runtime" / target.python_relpath(version) if compiler is not None else None
            check_stage.report_and_start(*analysis, project, bundled_python, installers, report, stage)
    icon = base_dir / project.icon.path if project.icon.path else None
    staged = StagedApp(bundle=bundle, target=target, python_version=version, app=project.app, entry=project.entry,
                       icon_source=icon, command=command, package_files=owners)
    staged.size_by_component = _sizes(staged, dependency_size)
    report.size_by_target[target.name] = staged.size_by_component
    if not report.size_by_component:
        report.size_by_component = staged.size_by_component
    return staged


def _note(stage: Any, message: str) -> None:
    """A line the build output shows (not only the log); reporters without `note` log it."""
    (getattr(stage, "note", None) or stage.log)(message)


def _dependencies(project: Project, base_dir: Path, target: Target, work_dir: Path, cache_dir: Path,
                  enter: StageEnter, report: BuildReport, lock_dir: Path | None, runtime: Future[Runtime],
                  ) -> tuple[Path | None, Compiled | None]:
    """The dependencies stage: the app's wheel (for a project built as one) and `packages/`; returns the wheel and
    what was compiled in the cache (None: `packages/` is to be compiled in the bundle)."""
    version = project.python.version
    root = base_dir / project.source.root
    packages = work_dir / "bundle" / "packages"

    def compile_with() -> Bytecode | None:
        try:
            ready = tools.result_of(runtime)
        except BaseException:
            return None  # the runtime stage reports its own failure
        compiler = ready.python if target.os == "linux" else None
        if compiler is None and version != f"{sys.version_info.major}.{sys.version_info.minor}":
            return None
        return Bytecode(compiler, ready.full_version, project.build.optimize, project.build.keep_sources)

    with enter("dependencies", f"installing the app and its dependencies for {target.name}") as stage:
        for problem in inline_metadata_warnings(project, base_dir):
            stage.warn(f"{problem.message} ({problem.hint})")
        app_wheel = None
        if builds_wheel(project.source, root):
            app_wheel = _app_wheel(project, base_dir, root, work_dir.parent / "app-wheel", cache_dir, stage,
                                   report)
            require_wheel_serves(app_wheel, project.app.name, target.name, version)
        # The same lock as last time: link the tree pip made then (no pip run).
        result, reused, precompiled = install_reusing(project.dependencies, base_dir, target, version, packages,
                                                      cache_dir, lock_dir, compile_with, source_root=root,
                                                      app_wheel=app_wheel, warn=stage.warn)
        if reused:
            stage.log("dependencies unchanged (same lock): reusing the installed tree from the cache")
        if precompiled is not None:
            stage.log("dependencies compiled to bytecode once, in the cache: linking the compiled tree")
        for note in result.notes:  # where each version came from, in the build's output (kiln.engine.dependencies)
            _note(stage, note)
        report.dependencies[target.name] = {
            "reused_wheels": result.reused_wheels, "locked": result.locked,
            "developer_lock": result.developer_lock,
            "lock": pylock.lock_name(target.name) if lock_dir is not None else "",
            "installed": [asdict(d) for d in result.installed],
        }
        stage.progress(0.8, f"{len(result.installed)} distributions installed")
        for warning in deps.known_bad(result.installed, version):
            stage.warn(warning)
        if precompiled is None:  # the cached compiled tree has neither bin/ nor stray caches
            remove_unshipped(packages)
    return app_wheel, precompiled


def _app_wheel(project: Project, base_dir: Path, root: Path, wheel_dir: Path, cache_dir: Path, stage: Any,
               report: BuildReport) -> Path:
    """The app's own wheel, built once per build (every target of the build installs the same wheel), with the files
    of its packages that the backend left out added (kiln.source.package_data)."""
    built = sorted(wheel_dir.glob("*.whl"))
    if built:
        return built[0]
    stage.log(f"building the app's wheel from {root} with its own build backend (log: the build log)")
    wheel = build_app_wheel(root, wheel_dir, deps.index_args(project.dependencies, base_dir), cache_dir)
    stage.log(f"built {wheel.name}")
    added = complete_wheel(wheel, root)
    report.added = {path: f"left out of the wheel by {added.backend}" for path in added.files}
    if added.files:
        stage.warn(added.summary())
    return wheel


def _keep_tkinter_only_if_used(bundle: Path, target: Target, checked: frozenset[str] | None, stage: Any) -> None:
    """Tcl/Tk is several megabytes: it ships only when the app or a dependency imports tkinter.

    `checked`: the app's own top-level names in packages/ when the bundle check runs (it fails the build, with the
    fix, when the app's own code needs a tkinter the runtime lacks: no warning here then)."""
    own = imports_tkinter(bundle / "app") or next(
        (f"{top}/{found}" for top in sorted(checked or ()) if (found := imports_tkinter(bundle / "packages" / top))),
        None)
    user = own or imports_tkinter(bundle / "packages")
    module = "DLLs/_tkinter.pyd" if target.os == "windows" else "lib/python3.*/lib-dynload/_tkinter*"
    if user and own and checked is not None and not any((bundle / "runtime").glob(module)):
        stage.log(f"{own} imports tkinter, which this {target.name} runtime lacks: the bundle check says what to do")
    elif user and not any((bundle / "runtime").glob(module)):
        if target.os == "windows":  # python.org's embeddable runtime (source "embed") has no tkinter at all
            stage.warn(f"{user} imports tkinter, but this Windows runtime has none (python.org's embeddable "
                       "CPython): set [python] source = \"download\" (python-build-standalone) for this app")
        else:  # a runtime cached by an older Kiln, which removed Tcl/Tk from every runtime it cached
            stage.warn(f"{user} imports tkinter, but this {target.name} runtime has no tkinter: remove it with "
                       f"`kiln cache clean` so the next build fetches it again with Tcl/Tk")
    elif user:
        stage.log(f"keeping tkinter and Tcl/Tk: {user} imports it")
    else:
        drop_tkinter(bundle / "runtime", target.os)


def _compile(compiler: Path | None, tree: Path, keep: Keep, project: Project, stage: Any) -> None:
    _warn_uncompiled(tree, compile_tree(compiler, tree, project.build.optimize, keep), stage)


def _say_sources(setting: bool | str, needed: dict[str, str], report: BuildReport, stage: Any) -> None:
    """Which dependencies keep their sources because their code names its own .py files (kiln.engine.sources)."""
    if not needed or report.sources_kept:
        return
    report.sources_kept = dict(needed)
    if setting is False:
        stage.warn(f"[build] keep_sources = false, but these packages run or read their own .py files and fail "
                   f"without them: {describe(needed)}; remove the setting (the default keeps just those sources)")
    elif setting == "auto":
        _note(stage, f"keeping the sources of packages that run or read their own .py files: {describe(needed)}")


def _warn_uncompiled(tree: Path, failed: list[str], stage: Any) -> None:
    for relative in failed:
        stage.warn(f"{tree.name}/{relative} is not valid Python for this runtime; shipped as source")


def _sizes(staged: StagedApp, dependency_size: dict[str, int]) -> dict[str, int]:
    runtime_total = tree_size(staged.runtime_dir)
    stdlib_dir = staged.runtime_dir / ("Lib" if staged.target.os == "windows" else f"lib/python{staged.python_version}")
    stdlib = tree_size(stdlib_dir) if stdlib_dir.exists() else 0
    sizes = {"runtime": runtime_total - stdlib, "stdlib": stdlib, "app": tree_size(staged.app_dir)}
    sizes.update(dependency_size)
    return sizes
