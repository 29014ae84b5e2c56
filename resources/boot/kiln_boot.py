"""Written by Kiln: starts the app the way python itself would. Paths come from the runtime's _kiln_bundle.py.

Only the `if __name__ == "__main__":` block runs the app: multiprocessing's spawn and forkserver children
import this file again (as __mp_main__) and must not start a second copy of the app.
"""
import os
import sys


def _run_as_main(code, spec, path):
    """Run code as a fresh __main__ module, like `python -m name` or `python script.py` do."""
    import types

    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__spec__ = spec
    main.__loader__ = spec.loader if spec is not None else None
    main.__package__ = spec.parent if spec is not None else None
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _run_function(module, attributes):
    """Like a console-script wrapper: import the module, call the function, exit with what it returns."""
    import importlib

    target = importlib.import_module(module)
    for name in attributes:
        target = getattr(target, name)
    sys.exit(target())


def _run_module(name):
    """Like `python -m name`; a package runs its __main__ module."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is not None and spec.submodule_search_locations is not None:
        spec = importlib.util.find_spec(name + ".__main__")
    if spec is None or spec.loader is None:
        sys.exit(f"{sys.argv[0]}: cannot run {name!r}: the module (or its __main__) is not in the bundle")
    _run_as_main(spec.loader.get_code(spec.name), spec, spec.origin)


def _run_script(parts):
    """Like `python script.py`: the script's folder first on sys.path; shipped as .py or as bytecode only."""
    import pkgutil

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "app", *parts)
    if os.path.exists(path):
        with open(path, "rb") as source:
            code = compile(source.read(), path, "exec")
    else:
        with open(path + "c", "rb") as compiled:
            code = pkgutil.read_code(compiled)
    sys.path.insert(0, os.path.dirname(path))
    _run_as_main(code, None, path)


def _launcher_path():
    """Windows: the launcher's path (it runs python3X.dll in its own process), as pip's console-script wrappers
    show it: without ".exe" (click and argparse print `Usage: pygmentize`). None when it cannot be read."""
    try:
        import ctypes

        buffer = ctypes.create_unicode_buffer(32768)
        length = ctypes.windll.kernel32.GetModuleFileNameW(None, buffer, len(buffer))
    except (ImportError, AttributeError, OSError):
        return None
    path = buffer.value if 0 < length < len(buffer) else ""
    return path[:-4] if path.lower().endswith(".exe") else path or None


if __name__ == "__main__":
    # sys.argv[0] is the command the user started, not this file: the POSIX launchers (sh, and the macOS
    # launcher) pass it in KILN_ARGV0, removed here so the app's own children do not inherit it.
    sys.argv[0] = os.environ.pop("KILN_ARGV0", None) or sys.argv[0]
    if sys.platform == "win32":
        sys.argv[0] = _launcher_path() or sys.argv[0]
        # Windows only. sys.executable is the app's launcher (App.exe), which runs this file, not
        # `-c`/`-m`: multiprocessing's spawn children need the runtime's own interpreter (pythonw.exe for a GUI
        # app, which has no console to show). They read the same runtime\python3XX._pth.
        import multiprocessing

        _error_log = os.environ.pop("KILN_ERROR_LOG", None)  # set by the GUI launcher only
        _interpreter = os.path.join(sys.prefix, "pythonw.exe" if _error_log else "python.exe")
        multiprocessing.set_executable(_interpreter)
        # The app's own `subprocess.run([sys.executable, "helper.py"])` needs an interpreter too: the launcher would
        # start the app again. (On Linux and macOS sys.executable is the runtime's python already.)
        sys.executable = _interpreter
        # And the base one: multiprocessing takes an executable other than sys._base_executable for a virtual
        # environment's, and starts sys._base_executable (the launcher, which would run the app) in its place.
        sys._base_executable = _interpreter
        if _error_log:
            # A GUI app has no console: the traceback of an uncaught exception goes to the file the launcher
            # named, and the launcher shows its last line and path in a message box once the app has exited.
            def _log_uncaught(kind, value, tb, _path=_error_log, _hook=sys.excepthook):
                try:
                    import traceback

                    os.makedirs(os.path.dirname(_path), exist_ok=True)
                    with open(_path, "w", encoding="utf-8") as _log:
                        traceback.print_exception(kind, value, tb, file=_log)
                finally:
                    _hook(kind, value, tb)

            sys.excepthook = _log_uncaught
    _run_module("ENTRY")  # the build writes the app's entry point in place of this line
