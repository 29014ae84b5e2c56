"""Checks a loaded project against the disk: TODOs left by `kiln new`, files that must exist, clashes."""

from __future__ import annotations

import stat
from pathlib import Path

from kiln.model.paths import containment_problems
from kiln.model.project import Project
from kiln.model.project_file import ProjectFile
from kiln.source.command import BUNDLE_NAMES
from kiln.support.errors import Problem

_TODO_HINTS = {
    "app.name": "set a short machine name, e.g. name = \"my-app\"",
    "app.version": "set the version, e.g. version = \"1.0.0\"",
    "entry.module": "set what to run, e.g. module = \"mypackage.cli:main\", or use entry.script",
}


def check_project(project_file: ProjectFile) -> list[Problem]:
    """Every problem that would stop or spoil a build, each with its field path and a fix."""
    project, base = project_file.project, project_file.base_dir
    problems = [
        Problem(path, "still a TODO placeholder", _TODO_HINTS.get(path, "fill in the value"))
        for path in project.todo_fields()
    ]
    problems += containment_problems(base, project.build.output_dir, project.source.root)  # kiln.model.paths
    if not any(p.location == "source.root" for p in problems):  # never walk `/` or a folder outside the project
        problems += _check_files(project, base)
    problems += _check_installers(project, base)
    if project.entry.command.lower() in BUNDLE_NAMES:
        problems.append(Problem("entry.command", f"'{project.entry.command}' is the name of a folder of the app's "
                                "bundle, so it cannot name the app's launcher", "choose another name"))
    return problems


def _check_files(project: Project, base: Path) -> list[Problem]:
    problems = []
    root = base / project.source.root
    if not root.is_dir():
        problems.append(Problem("source.root", f"folder '{project.source.root}' does not exist", "fix the path"))
    elif not project.todo_fields():
        from kiln.source.app_wheel import builds_wheel
        from kiln.source.companions import select_with_companions
        from kiln.source.entry_checks import entry_problems

        # A Python project is built into a wheel: its files are chosen by its own build backend, and the entry
        # point is checked against the installed bundle during the build (it may live in a dependency).
        if not builds_wheel(project.source, root):
            selection, _ = select_with_companions(root, project.source)  # files; links and special files refused
            problems += selection.problems
            files = set(selection.files)
            if not files:
                problems.append(Problem("source.include", "selects no files",
                                        "name your package, e.g. include = [\"mypkg/**\"]"))
            else:
                has_dependencies = bool(project.dependencies.requirements or project.dependencies.requirements_file)
                problems += entry_problems(project.entry, files, has_dependencies)
            if project.dependencies.extras:  # a folder of files has no optional features to choose from
                problems.append(Problem("dependencies.extras", "extras are optional features of a Python project, and "
                                        "this app is shipped as files (source.kind \"files\")",
                                        "list what to install in dependencies.requirements instead"))
    optional_files = {
        "icon.path": project.icon.path,
        "dependencies.requirements_file": project.dependencies.requirements_file,
    }
    for field_path, value in optional_files.items():
        if value and (problem := file_problem(base / value, value)) is not None:
            problems.append(Problem(field_path, problem, "fix the path or clear the value"))
    if project.icon.path and (base / project.icon.path).is_file():  # read as the build reads it: any image Pillow reads
        from kiln.support.icons import icon_problem

        if (problem := icon_problem(base / project.icon.path)) is not None:
            problems.append(Problem("icon.path", problem, "choose another image, or clear it for Kiln's default"))
    source = project.python.source
    if source not in {"auto", "host", "download", "embed"} and not (base / source).is_file():
        problems.append(
            Problem("python.source", f"'{source}' is not auto, host, download, embed, or an existing archive",
                    "use auto, or the path of a python-build-standalone archive")
        )
    others = sorted({i.platform for i in project.active_installers()} - {"windows-x86_64"})
    if source == "embed" and others:  # python.org's embeddable CPython exists for Windows only
        problems.append(Problem("python.source", f"\"embed\" is a Windows runtime, but installers target "
                                f"{', '.join(others)}", "use source = \"auto\" (it picks embed for Windows)"))
    return problems


_FILE_KINDS = [(stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
               (stat.S_ISSOCK, "a socket")]


def file_problem(path: Path, shown: str) -> str | None:
    """Why `path` (shown as `shown`, the value the user wrote) is not a readable regular file, or None."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"file '{shown}' does not exist"
    except OSError as e:
        from kiln.model.paths import os_error_text

        return f"file '{shown}' cannot be read ({os_error_text(e)})"
    if stat.S_ISDIR(info.st_mode):
        return f"'{shown}' is a folder, not a file"
    kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), None)
    if kind is not None:
        return f"'{shown}' is {kind}, not a file"
    return None


def _check_installers(project: Project, base: Path) -> list[Problem]:
    problems = []
    if not project.active_installers():
        problems.append(Problem("installer", "no installer to build",
                                "add [[installer]] with kind = \"appimage\", or enable one (enabled = true)"))
    for index, installer in enumerate(project.installer):
        if not installer.enabled:
            continue
        for problem in installer.problems(project, base, f"installer[{index}]"):
            if problem not in problems:  # two tables of one kind may find the same project-wide problem
                problems.append(problem)
    seen: dict[tuple[str, str], int] = {}
    for index, installer in enumerate(project.installer):
        if not installer.enabled:
            continue
        key = (installer.kind, installer.platform)
        if key in seen:
            problems.append(
                Problem(f"installer[{index}]", f"duplicates installer[{seen[key]}] ({installer.kind} for "
                        f"{installer.platform})", "remove one of them")
            )
        seen.setdefault(key, index)
    return problems


def check_warnings(project_file: ProjectFile) -> list[Problem]:
    """What does not stop a build but deserves a look: values `kiln new` guessed (marked by a comment), a script's
    inline dependencies the project does not list, an icon that is small or not square."""
    from kiln.source.detect import GUESS_COMMENT
    from kiln.source.icon_choice import icon_warnings

    warnings = inline_metadata_warnings(project_file.project, project_file.base_dir)
    for section_name in ("app",):
        section = project_file.document.get(section_name)
        if section is None:
            continue
        for key, item in section.items():
            comment = getattr(getattr(item, "trivia", None), "comment", "") or ""
            if GUESS_COMMENT in comment:
                warnings.append(Problem(f"{section_name}.{key}", f"'{item}' is a guess by kiln new",
                                        "check the value, then delete the comment beside it"))
    icon = project_file.project.icon.path
    if icon and (project_file.base_dir / icon).is_file():
        warnings += [Problem("icon.path", text, "choose a square PNG of 256 px or more, or an SVG")
                     for text in icon_warnings(project_file.base_dir / icon, icon)]
    return warnings


def inline_metadata_warnings(project: Project, base: Path) -> list[Problem]:
    """The entry script's `# /// script` block (PEP 723) lists dependencies [dependencies] requirements does not."""
    from kiln.source.inline_metadata import undeclared

    if not project.entry.script:
        return []
    missing = undeclared(base / project.source.root / project.entry.script, project.dependencies.requirements)
    if not missing:
        return []
    return [Problem("dependencies.requirements", f"{project.entry.script} declares {', '.join(missing)} in its "
                    "'# /// script' block, which the project does not list: the build ships what the project lists",
                    "add them to dependencies.requirements (kiln new --force reads the script again)")]
