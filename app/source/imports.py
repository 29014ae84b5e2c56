"""What a Python module imports, read with `ast` (never run), and how surely each import runs on a target.

Each `import` / `from … import` / `importlib.import_module("…")` / `__import__("…")` with a constant name is an
`ImportSite`; a call with a computed name (`import_module(api + ".QtSvg")`) is a `ComputedImport`, with the
string constants seen in its argument. How surely a site runs (`need`):

- `required`: it runs whenever its module is imported (or, inside a function, whenever the function is called);
- `conditional`: under an `if` Kiln cannot decide;
- `optional`: guarded (`try: … except ImportError`, a broad `except` around nothing but imports and assignments,
  `contextlib.suppress(ImportError)`), or in the handler of such a `try` (a fallback).

Conditions on the platform and version are decided for the target (`Facts`): `sys.platform`,
`sys.platform.startswith(…)`, `os.name`, `platform.system()`, `sys.version_info` (compared with tuples, or its
`[0]`, `.major`, `.minor`), `TYPE_CHECKING`, `__name__ == "__main__"`, `not`/`and`/`or`, and module-level names bound
once to such a condition (`WINDOWS = sys.platform == "win32"`). A branch that cannot run on the target is skipped.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kiln.support import pyast

Need = Literal["required", "conditional", "optional"]
NEEDS: tuple[Need, ...] = ("required", "conditional", "optional")
"""From the surest to the least sure."""
_GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def weaker(a: Need, b: Need) -> Need:
    return a if NEEDS.index(a) >= NEEDS.index(b) else b


@dataclass(frozen=True)
class Facts:
    """What a target's interpreter would say to the conditions Kiln decides."""

    sys_platform: str
    os_name: str
    system: str
    version: tuple[int, int]

    @classmethod
    def for_target(cls, os: str, version: str) -> Facts:
        major, minor = (int(part) for part in version.split(".")[:2])
        return {
            "linux": cls("linux", "posix", "Linux", (major, minor)),
            "windows": cls("win32", "nt", "Windows", (major, minor)),
            "macos": cls("darwin", "posix", "Darwin", (major, minor)),
        }[os]


@dataclass(frozen=True)
class ImportSite:
    module: str
    """The absolute dotted name (relative imports resolved against the importing module's package)."""
    names: tuple[str, ...]
    """`from module import a, b` -> ("a", "b"); `import module` -> ()."""
    line: int
    need: Need
    in_function: bool
    function: str = ""
    """The function it sits in, as `name` or `Class.name` (the innermost one), "" at module level."""


@dataclass(frozen=True)
class ComputedImport:
    line: int
    text: str
    """The call as written (ast.unparse), shortened."""
    constants: tuple[str, ...]
    """String constants in the argument (`api + ".QtSvg"` -> (".QtSvg",))."""
    need: Need


@dataclass
class ModuleImports:
    sites: list[ImportSite] = field(default_factory=list)
    computed: list[ComputedImport] = field(default_factory=list)
    extends_path: bool = False
    """The module changes sys.path (`sys.path.insert`, `site.addsitedir`): it may import from its own folders."""


def module_imports(source: bytes, module: str, is_package: bool, facts: Facts, as_main: bool) -> ModuleImports | None:
    """The imports of one module's source; None when it does not parse. `module` is its dotted name ("" for a
    script), `as_main` whether it runs as __main__ (then its `if __name__ == "__main__":` block runs)."""
    try:
        tree = pyast.parse(source)
    except (SyntaxError, ValueError):
        return None
    package = module if is_package else module.rpartition(".")[0]
    walker = _Walker(facts, package, as_main)
    walker.bind_flags(tree.body)
    walker.body(tree.body, "required", _Scope())
    return walker.found


@dataclass(frozen=True)
class _Scope:
    """Where a statement sits: inside a function (its qualified name) or a class body."""

    in_function: bool = False
    name: str = ""

    def enter(self, name: str, function: bool) -> _Scope:
        qualified = f"{self.name}.{name}" if self.name else name
        return _Scope(self.in_function or function, qualified)

    @property
    def function(self) -> str:
        return self.name if self.in_function else ""


class _Walker:
    def __init__(self, facts: Facts, package: str, as_main: bool) -> None:
        self.facts, self.package, self.as_main = facts, package, as_main
        self.flags: dict[str, bool] = {}
        self.found = ModuleImports()

    # -- module-level names bound to a decidable condition ----------------------------------------------------
    def bind_flags(self, body: list[ast.stmt]) -> None:
        seen: dict[str, int] = {}
        values: dict[str, bool | None] = {}
        for statement in body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
                    isinstance(statement.targets[0], ast.Name):
                name = statement.targets[0].id
                seen[name] = seen.get(name, 0) + 1
                values[name] = self.decide(statement.value)
        self.flags = {name: value for name, value in values.items() if value is not None and seen[name] == 1}

    # -- statements ------------------------------------------------------------------------------------------
    def body(self, statements: list[ast.stmt], need: Need, scope: _Scope) -> None:
        for statement in statements:
            self.statement(statement, need, scope)

    def statement(self, node: ast.stmt, need: Need, scope: _Scope) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.add(alias.name, (), node.lineno, need, scope)
        elif isinstance(node, ast.ImportFrom):
            target = self.absolute(node.module or "", node.level)
            if target and target != "__future__":
                self.add(target, tuple(a.name for a in node.names if a.name != "*"), node.lineno, need, scope)
        elif isinstance(node, ast.If):
            self.expressions(node.test, need, scope)
            decided = self.decide(node.test)
            if decided is not False:
                self.body(node.body, need if decided else weaker(need, "conditional"), scope)
            if decided is not True:
                self.body(node.orelse, need if decided is False else weaker(need, "conditional"), scope)
        elif isinstance(node, ast.Try | ast.TryStar):
            guarded = any(_guards_imports(h.type, node.body) for h in node.handlers)
            self.body(node.body, "optional" if guarded else need, scope)
            for handler in node.handlers:
                self.body(handler.body, "optional" if guarded else weaker(need, "conditional"), scope)
            self.body(node.orelse, need, scope)
            self.body(node.finalbody, need, scope)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self.expressions(item.context_expr, need, scope)
            suppressed = any(_suppresses_import_error(item.context_expr) for item in node.items)
            self.body(node.body, "optional" if suppressed else need, scope)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                self.expressions(decorator, need, scope)
            self.body(node.body, need, scope.enter(node.name, function=True))
        elif isinstance(node, ast.ClassDef):
            for decorator in node.decorator_list:
                self.expressions(decorator, need, scope)
            self.body(node.body, need, scope.enter(node.name, function=False))
        elif isinstance(node, ast.For | ast.AsyncFor | ast.While):
            self.expressions(node.iter if not isinstance(node, ast.While) else node.test, need, scope)
            self.body(node.body, need, scope)
            self.body(node.orelse, weaker(need, "conditional"), scope)
        elif isinstance(node, ast.Match):
            self.expressions(node.subject, need, scope)
            for case in node.cases:
                self.body(case.body, weaker(need, "conditional"), scope)
        else:
            self.expressions(node, need, scope)

    def expressions(self, node: ast.AST, need: Need, scope: _Scope) -> None:
        """Import calls and sys.path changes anywhere inside a statement or expression."""
        for child in ast.walk(node):
            if not isinstance(child, ast.Call):
                continue
            callee = _dotted(child.func)
            if callee in ("sys.path.insert", "sys.path.append", "sys.path.extend", "site.addsitedir"):
                self.found.extends_path = True
            elif callee.rsplit(".", 1)[-1] in ("import_module", "__import__") and child.args:
                self.call(child, need, scope)  # importlib.import_module, or as imported: `_importlib.import_module`

    def call(self, node: ast.Call, need: Need, scope: _Scope) -> None:
        argument = node.args[0]
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            name = argument.value
            if name.startswith("."):
                level = len(name) - len(name.lstrip("."))
                name = self.absolute(name.lstrip("."), level)
            if name:
                self.add(name, (), node.lineno, need, scope)
            return
        constants = tuple(c.value for c in ast.walk(argument) if isinstance(c, ast.Constant)
                          and isinstance(c.value, str) and c.value)
        text = ast.unparse(node)
        self.found.computed.append(ComputedImport(node.lineno, text if len(text) <= 120 else text[:117] + "...",
                                                  constants, need))

    def add(self, module: str, names: tuple[str, ...], line: int, need: Need, scope: _Scope) -> None:
        self.found.sites.append(ImportSite(module, names, line, need, scope.in_function, scope.function))

    def absolute(self, module: str, level: int) -> str:
        """`from ..x import y` inside package a.b.c -> a.b.x; "" when it climbs above the top (or in a script)."""
        if level == 0:
            return module
        parts = self.package.split(".") if self.package else []
        if level - 1 > len(parts) or not parts:
            return ""
        base = parts[:len(parts) - (level - 1)]
        return ".".join([*base, module] if module else base)

    # -- deciding conditions ------------------------------------------------------------------------------------
    def decide(self, node: ast.expr) -> bool | None:
        """True or False when the condition has that value on the target, None when Kiln cannot tell."""
        if isinstance(node, ast.Constant) and isinstance(node.value, bool | int):
            return bool(node.value)
        if isinstance(node, ast.Name):
            if node.id == "TYPE_CHECKING":
                return False
            return self.flags.get(node.id)
        if isinstance(node, ast.Attribute) and _dotted(node) == "typing.TYPE_CHECKING":
            return False
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.decide(node.operand)
            return None if inner is None else not inner
        if isinstance(node, ast.BoolOp):
            values = [self.decide(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return False if False in values else (None if None in values else True)
            return True if True in values else (None if None in values else False)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "startswith", "endswith") and len(node.args) == 1:
            subject = self.value(node.func.value)
            prefix = node.args[0]
            options = _constant_strings(prefix)
            if isinstance(subject, str) and options is not None:
                check = subject.startswith if node.func.attr == "startswith" else subject.endswith
                return any(check(option) for option in options)
            return None
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self.compare(node.left, node.ops[0], node.comparators[0])
        return None

    def compare(self, left_node: ast.expr, op: ast.cmpop, right_node: ast.expr) -> bool | None:
        left, right = self.value(left_node), self.value(right_node)
        if left is None or right is None:
            return None
        if isinstance(op, ast.In | ast.NotIn):
            if not isinstance(right, tuple | list | set | frozenset | str):
                return None
            inside = left in right
            return inside if isinstance(op, ast.In) else not inside
        if isinstance(left, tuple) and isinstance(right, tuple):
            left, right = _comparable(left, right)
            if left is None or right is None:
                return None
        elif type(left) is not type(right):
            return None
        try:
            return _ORDER[type(op)](left, right) if type(op) in _ORDER else None
        except TypeError:  # a tuple of mixed parts, say
            return None

    def value(self, node: ast.expr) -> object:
        """The target's value of `sys.platform`, `os.name`, `platform.system()`, `sys.version_info` (and its parts),
        `__name__`, or a constant; None otherwise."""
        dotted = _dotted(node)
        if dotted == "sys.platform":
            return self.facts.sys_platform
        if dotted == "os.name":
            return self.facts.os_name
        if dotted == "sys.version_info":
            return self.facts.version
        if dotted in ("sys.version_info.major", "sys.version_info.minor"):
            return self.facts.version[0 if dotted.endswith("major") else 1]
        if dotted == "__name__":
            return "__main__" if self.as_main else "(imported)"
        if isinstance(node, ast.Call) and _dotted(node.func) == "platform.system" and not node.args:
            return self.facts.system
        if isinstance(node, ast.Subscript) and _dotted(node.value) == "sys.version_info":
            index = node.slice.value if isinstance(node.slice, ast.Constant) else None
            if index == 0 or index == 1:
                return self.facts.version[0 if index == 0 else 1]
            if isinstance(node.slice, ast.Slice) and node.slice.lower is None and node.slice.step is None and \
                    isinstance(node.slice.upper, ast.Constant) and node.slice.upper.value == 2:
                return self.facts.version  # sys.version_info[:2]
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int):
            return node.value
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = [self.value(e) for e in node.elts]
            return None if any(i is None for i in items) else tuple(items)
        return None


_ORDER: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _comparable(target: tuple[object, ...], other: tuple[object, ...]) -> tuple[object, object]:
    """A (major, minor) version against a tuple: compared on the parts both have; None when the answer depends on
    parts the target's version leaves open ((3, 11) against (3, 11, 4))."""
    if len(target) == 2 and len(other) > 2 and tuple(other[:2]) == target:
        return None, None
    if len(other) == 2 and len(target) > 2 and tuple(target[:2]) == other:
        return None, None
    size = min(len(target), len(other))
    return tuple(target[:size]), tuple(other[:size])


def _constant_strings(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return tuple(str(e.value) for e in node.elts)  # type: ignore[attr-defined]
    return None


def _dotted(node: ast.expr) -> str:
    """`a.b.c` for an attribute chain on a name, "" for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _guards_imports(handler_type: ast.expr | None, body: list[ast.stmt]) -> bool:
    """Whether an except clause makes the imports of its `try` optional: it catches ImportError (or
    ModuleNotFoundError), or it catches everything around a body of imports and plain assignments only. A broad
    `except Exception` around the app's main work (thonny's launch) is error handling, not an import guard."""
    names = [] if handler_type is None else (
        handler_type.elts if isinstance(handler_type, ast.Tuple) else [handler_type])
    caught = {_dotted(n).rsplit(".", 1)[-1] for n in names}
    if caught & {"ImportError", "ModuleNotFoundError"}:
        return True
    broad = handler_type is None or bool(caught & {"Exception", "BaseException"})
    return broad and all(isinstance(s, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign | ast.Pass)
                         for s in body)


def _suppresses_import_error(context: ast.expr) -> bool:
    return isinstance(context, ast.Call) and _dotted(context.func) in ("contextlib.suppress", "suppress") and \
        any(_dotted(a).rsplit(".", 1)[-1] in _GUARDS for a in context.args)
