"""The SDK's public surface, read from its sources, and how the workbench's stand-in differs from it.

The vendor's ``lunavl`` cannot be imported here (it needs the C++ core), so the surface of its whole public
tree is parsed from the reference sources with ``ast`` (``../shared/reference/lunasdk``, pinned to the commit
in its ``COMMIT`` file): module-level names (and those a module imports, which plugins may import from it too,
with where each comes from), classes, their methods with parameter names, kinds and defaults, properties (and
whether they have setters), enum members and values, ``NamedTuple`` fields, class-level constants (the error
table of ``LunaVLError``), and attributes set in ``__init__``.
A snapshot of it ships with the package (``workbench/sdk/reference_surface.json``), so ``load_surface()``
works on machines without the reference sources; a test regenerates it and fails when it is stale.

``workbench._compat`` answers every module of the snapshot: the stand-in's objects where it implements a name,
generated placeholders raising ``NotImplementedError`` (``workbench.sdk._placeholders``) everywhere else.
``stand_in_modules()`` imports the stand-in modules, ``diff_surfaces`` reads the same facts from them (by introspection) and
lists every difference (missing names, extra names, other parameters or defaults, other member kinds, other
enum values), and ``coverage_markdown`` renders the covered / partial / missing table of docs/sdk-coverage.md.
Known, intended differences are listed with a reason in ``workbench/sdk/reference_allowlist.txt``.

Used by the SDK fidelity tests, and (through ``Surface.importable_names``, ``class_members`` and
``keyword_parameters``) by strict mode and ``workbench check`` (``workbench.host._surface``): this snapshot is
the workbench's one record of the SDK's surface.
"""
from __future__ import annotations

import ast
import enum
import functools
import importlib
import inspect
import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ALLOWLIST_PATH",
    "BEHAVIOUR_PATH",
    "LISTED_TYPES",
    "SNAPSHOT_PATH",
    "ClassSurface",
    "Difference",
    "Member",
    "ModuleSurface",
    "Param",
    "Surface",
    "coverage_markdown",
    "diff_surfaces",
    "extract_surface",
    "load_allowlist",
    "load_surface",
    "shipped_surface",
    "stand_in_modules",
]

_PACKAGE = Path(__file__).resolve().parent
SNAPSHOT_PATH = _PACKAGE / "sdk" / "reference_surface.json"
ALLOWLIST_PATH = _PACKAGE / "sdk" / "reference_allowlist.txt"
# Hand-written: how the stand-in behaves otherwise than the SDK where names and signatures agree, and why.
BEHAVIOUR_PATH = _PACKAGE / "sdk" / "behaviour_differences.md"
# The SDK's modules the stand-in provides, and where: the service's import path -> the workbench module,
# relative to this package (the workbench may be loaded under another package name, see workbench._compat).
STAND_IN_MODULES = {
    "lunavl.sdk.base": ".sdk.base",
    "lunavl.sdk.errors.errors": ".sdk.error_codes",
    "lunavl.sdk.errors.exceptions": ".sdk.errors",
    "lunavl.sdk.estimators.image_estimators.people_count": ".sdk.people_count",
    "lunavl.sdk.image_utils.geometry": ".sdk.geometry",
    "lunavl.sdk.image_utils.image": ".sdk.image",
}
# The types the reference README lists: the surface a plugin author uses.
LISTED_TYPES = (
    "VLImage", "Rect", "Vec2D", "Point", "Size", "ColorFormat", "ImageFormat", "PeopleCount",
    "ImageForPeopleEstimation", "EstimationTargets", "BaseEstimation",
)
# Dunder methods that are part of a type's behaviour (the rest, __repr__ included, are not compared).
_COMPARED_DUNDERS = frozenset({"__init__", "__and__", "__eq__", "__ne__", "__hash__"})
# Members every class of a kind has without defining them (by the base the reference names).
_IMPLICIT_MEMBERS = {"NamedTuple": frozenset({"count", "index"}), "Enum": frozenset({"name", "value"})}


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` as ``inspect.Parameter`` names it; ``default`` as source text, None if none."""

    name: str
    kind: str
    default: str | None = None


@dataclass(frozen=True)
class Member:
    """A member of a class or module.

    ``kind``: ``method``, ``classmethod``, ``staticmethod``, ``property``, ``attribute`` (set in ``__init__``),
    ``field`` (``NamedTuple``), ``enum_member``, ``function``, ``class``, ``constant``.
    """

    name: str
    kind: str
    params: tuple[Param, ...] = ()
    settable: bool = False
    value: str | None = None


@dataclass(frozen=True)
class ClassSurface:
    name: str
    bases: tuple[str, ...]
    members: dict[str, Member] = field(default_factory=dict)
    # Whether the class body declares ``__slots__``: without them its instances take new attributes.
    slots: bool = False


@dataclass(frozen=True)
class ModuleSurface:
    name: str
    classes: dict[str, ClassSurface] = field(default_factory=dict)
    names: dict[str, Member] = field(default_factory=dict)  # module-level functions and constants
    # Public names the module binds by importing them (``Rect`` in ``lunavl.sdk.base``): importable from it.
    imports: tuple[str, ...] = ()
    # Imported name -> where it comes from: ``module:name`` (``from module import name``) or ``module`` alone
    # (``import module``), with relative imports made absolute.
    import_sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Surface:
    commit: str
    modules: dict[str, ModuleSurface]

    @functools.cached_property
    def classes_by_name(self) -> dict[str, ClassSurface]:
        """Every class of the reference by its bare name, as a subclass names its bases (computed once)."""
        return {name: cls for module in self.modules.values() for name, cls in module.classes.items()}

    def importable_names(self) -> dict[str, frozenset[str]]:
        """Module path -> every public name ``from <module> import <name>`` finds there."""
        return {
            name: frozenset(module.classes) | frozenset(module.names) | frozenset(module.imports)
            for name, module in self.modules.items()
        }

    def class_members(self) -> dict[str, frozenset[str]]:
        """Class name -> its public members, with those of its bases in the reference and those every enum or
        ``NamedTuple`` has (``name``, ``value``; ``count``, ``index``). Classes of one name in several modules
        get the members of all of them: a member is never refused that one of them has."""
        found: dict[str, frozenset[str]] = {}
        for module in self.modules.values():
            for name, cls in module.classes.items():
                members = frozenset(m for m in _with_inherited(self, cls).members if not m.startswith("_"))
                found[name] = found.get(name, frozenset()) | members | _implicit_members(cls)
        return found

    def keyword_parameters(self) -> dict[str, frozenset[str] | None]:
        """``"Class.method"`` (``__init__`` for the constructor) -> the parameter names a caller may pass by
        keyword; None where the method takes ``**kwargs``. Only what each class defines itself."""
        found: dict[str, frozenset[str] | None] = {}
        for module in self.modules.values():
            for cls in module.classes.values():
                for member in cls.members.values():
                    if member.kind in _CALLABLE_KINDS and (member.name == "__init__" or not member.name.startswith("_")):
                        kinds = {p.kind for p in member.params}
                        found[f"{cls.name}.{member.name}"] = None if "VAR_KEYWORD" in kinds else frozenset(
                            p.name for p in member.params if p.kind in ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")
                        )
        return found

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Surface:
        data = json.loads(text)

        def member(raw: dict[str, Any]) -> Member:
            return Member(**{**raw, "params": tuple(Param(**p) for p in raw["params"])})

        modules = {
            name: ModuleSurface(
                name=name,
                classes={
                    cname: ClassSurface(cname, tuple(c["bases"]), {m: member(v) for m, v in c["members"].items()},
                                        c.get("slots", False))
                    for cname, c in raw["classes"].items()
                },
                names={n: member(v) for n, v in raw["names"].items()},
                imports=tuple(raw["imports"]),
                import_sources=dict(raw.get("import_sources", {})),
            )
            for name, raw in data["modules"].items()
        }
        return cls(commit=data["commit"], modules=modules)


@dataclass(frozen=True)
class Difference:
    """One way the stand-in differs: ``where`` is ``module:Class.member``; ``kind`` one of ``missing``,
    ``extra``, ``params``, ``member-kind``, ``setter``, ``value``, ``attributes`` (instances take new
    attributes in one and not the other: ``__slots__`` in one class and not the other)."""

    where: str
    kind: str
    detail: str

    @property
    def key(self) -> str:
        """The allowlist key: ``<where> <kind>``."""
        return f"{self.where} {self.kind}"

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.detail}"


# --- the reference, by ast -------------------------------------------------------------------------------------


_CALLABLE_KINDS = frozenset({"method", "classmethod", "staticmethod"})


def _implicit_members(cls: ClassSurface) -> frozenset[str]:
    """What ``cls`` has by being an enum or a ``NamedTuple`` (bases by bare name: ``enum.Enum`` is ``Enum``)."""
    bare = {base.split("[")[0].split(".")[-1] for base in cls.bases}
    return frozenset().union(*(_IMPLICIT_MEMBERS.get(base, frozenset()) for base in bare))


def _default_text(node: ast.expr) -> str:
    try:
        return repr(ast.literal_eval(node))
    except ValueError:
        return ast.unparse(node)


def _params(args: ast.arguments) -> tuple[Param, ...]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [
        Param(a.arg, "POSITIONAL_ONLY" if a in args.posonlyargs else "POSITIONAL_OR_KEYWORD",
              None if d is None else _default_text(d))
        for a, d in zip(positional, defaults)
    ]
    if args.vararg:
        params.append(Param(args.vararg.arg, "VAR_POSITIONAL"))
    params += [
        Param(a.arg, "KEYWORD_ONLY", None if d is None else _default_text(d))
        for a, d in zip(args.kwonlyargs, args.kw_defaults)
    ]
    if args.kwarg:
        params.append(Param(args.kwarg.arg, "VAR_KEYWORD"))
    return tuple(params)


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return {ast.unparse(d) for d in node.decorator_list}


def _is_public(name: str) -> bool:
    return not name.startswith("_") or name in _COMPARED_DUNDERS


def _class_surface(node: ast.ClassDef) -> ClassSurface:
    bases = tuple(ast.unparse(b) for b in node.bases)
    is_enum = any(b.split("[")[0] in ("Enum", "enum.Enum") for b in bases)
    is_named_tuple = "NamedTuple" in bases
    members: dict[str, Member] = {}
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = _decorators(item)
            if "overload" in decorators or not _is_public(item.name):
                continue
            setter = f"{item.name}.setter"
            if setter in decorators:
                members[item.name] = Member(item.name, "property", settable=True)
            elif "property" in decorators:
                members[item.name] = Member(item.name, "property")
            elif "classmethod" in decorators:
                members[item.name] = Member(item.name, "classmethod", _params(item.args)[1:])
            elif "staticmethod" in decorators:
                members[item.name] = Member(item.name, "staticmethod", _params(item.args))
            else:
                members[item.name] = Member(item.name, "method", _params(item.args)[1:])
                if item.name == "__init__":
                    for sub in ast.walk(item):
                        targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target] if isinstance(sub, ast.AnnAssign) else []
                        for target in targets:
                            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                    and target.value.id == "self" and _is_public(target.attr)):
                                members.setdefault(target.attr, Member(target.attr, "attribute"))
        elif is_enum and isinstance(item, ast.Assign) and isinstance(item.targets[0], ast.Name):
            name = item.targets[0].id
            members[name] = Member(name, "enum_member", value=_default_text(item.value))
        elif is_named_tuple and isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members[item.target.id] = Member(item.target.id, "field")
        elif isinstance(item, ast.Assign):
            for target in item.targets:
                if isinstance(target, ast.Name) and not target.id.startswith("_"):
                    members[target.id] = Member(target.id, "constant", value=ast.unparse(item.value))
    slots = any(
        isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in item.targets)
        for item in node.body
    )
    return ClassSurface(node.name, bases, members, slots)


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_sources(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> dict[str, str]:
    """Bound name -> ``module:name`` or ``module``, for one import statement of ``module``."""
    if isinstance(node, ast.Import):
        # ``import a.b`` binds ``a`` (the package); ``import a.b as c`` binds ``c`` to ``a.b``.
        return {(alias.asname or alias.name.split(".")[0]): (alias.name if alias.asname else alias.name.split(".")[0])
                for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    return {(alias.asname or alias.name): f"{base}:{alias.name}" for alias in node.names if alias.name != "*"}


def extract_surface(reference_dir: str | Path) -> Surface:
    """The surface of every module under ``reference_dir`` (the folder holding ``COMMIT`` and ``lunavl/``)."""
    root = Path(reference_dir)
    commit = (root / "COMMIT").read_text().strip()
    modules = {}
    for path in sorted((root / "lunavl").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module = ModuleSurface(_module_name(path, root))
        sources: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                sources.update(_import_sources(node, module.name, path.name == "__init__.py"))
            if isinstance(node, ast.ClassDef) and _is_public(node.name):
                module.classes[node.name] = _class_surface(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_public(node.name):
                module.names[node.name] = Member(node.name, "function", _params(node.args))
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and _is_public(target.id):
                        module.names[target.id] = Member(target.id, "constant", value=ast.unparse(node.value))
        public_imports = tuple(sorted(name for name in sources if not name.startswith("_")))
        module = ModuleSurface(module.name, module.classes, module.names, public_imports,
                               {name: sources[name] for name in public_imports})
        modules[module.name] = module
    return Surface(commit=commit, modules=modules)


def load_surface(path: str | Path = SNAPSHOT_PATH) -> Surface:
    """The committed snapshot of the reference surface (no reference sources needed)."""
    return Surface.from_json(Path(path).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def shipped_surface() -> Surface:
    """The shipped snapshot, parsed once per process for the workbench's own readers (the SDK's error table,
    ``workbench._compat``, the surface strict mode and check hold plugins to): read it, never change it;
    ``load_surface()`` gives a fresh copy."""
    return load_surface()


# --- the stand-in, by introspection -------------------------------------------------------------------------


def _default_of(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


def _signature_params(function: Any, drop_first: bool) -> tuple[Param, ...]:
    params = list(inspect.signature(function).parameters.values())
    if drop_first:
        params = params[1:]
    return tuple(Param(p.name, p.kind.name, _default_of(p.default)) for p in params)


def _own_attribute(cls: type, name: str) -> tuple[type, Any] | None:
    """Where along the MRO ``name`` is defined, leaving out what every class or tuple/Enum/Generic has."""
    for klass in cls.__mro__:
        if klass.__module__ in ("builtins", "typing", "enum", "abc"):
            continue
        if name in vars(klass):
            return klass, vars(klass)[name]
    return None


def _stand_in_member(cls: type, name: str, reference: Member) -> Member | None:
    if reference.kind == "enum_member":
        member = cls.__members__.get(name) if issubclass(cls, enum.Enum) else None
        return None if member is None else Member(name, "enum_member", value=repr(member.value))
    if reference.kind == "field":
        return Member(name, "field") if name in getattr(cls, "_fields", ()) else None
    found = _own_attribute(cls, name)
    if found is None:
        # An instance attribute of a class without __slots__ is only in its __init__'s code, as in the reference.
        return Member(name, "attribute") if reference.kind == "attribute" and name in _init_assigns(cls) else None
    _, raw = found
    if isinstance(raw, property):
        return Member(name, "property", settable=raw.fset is not None)
    if isinstance(raw, classmethod):
        return Member(name, "classmethod", _signature_params(raw.__func__, drop_first=True))
    if isinstance(raw, staticmethod):
        return Member(name, "staticmethod", _signature_params(raw.__func__, drop_first=False))
    if inspect.isfunction(raw):
        return Member(name, "method", _signature_params(raw, drop_first=True))
    if inspect.ismemberdescriptor(raw) or reference.kind == "attribute":
        return Member(name, "attribute")
    return Member(name, "constant")


def _init_assigns(cls: type) -> set[str]:
    """The ``self.<name>`` the ``__init__`` methods along ``cls``'s MRO assign (read from their source)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if klass.__module__ in ("builtins", "typing", "enum", "abc") or not inspect.isfunction(init):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
        names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                  and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) and node.value.id == "self"}
    return names


def _public_class_names(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__ in ("builtins", "typing", "enum", "abc"):
            continue
        names |= {n for n in vars(klass) if not n.startswith("_")}
    if issubclass(cls, enum.Enum):
        names |= set(cls.__members__)
    return names


def stand_in_modules(reference: Surface, modules: Mapping[str, str] = STAND_IN_MODULES) -> dict[str, Any]:
    """The stand-in's modules, imported: ``{service module name: module}`` for those it provides."""
    return {name: importlib.import_module(target, __package__) for name, target in modules.items()
            if name in reference.modules}


def diff_surfaces(reference: Surface, modules: Mapping[str, str] = STAND_IN_MODULES) -> list[Difference]:
    """Every difference between the reference surface and the stand-in modules, in a stable order.

    Modules the stand-in does not implement are left out: ``workbench._compat`` answers them with generated
    placeholders (``coverage_markdown`` lists them as core-only). A ``missing`` module-level name of an
    implemented module is answered by a placeholder too; a ``missing`` class member is absent."""
    stand_ins = stand_in_modules(reference, modules)
    differences: list[Difference] = []
    for module_name, module in sorted(reference.modules.items()):
        stand_in = stand_ins.get(module_name)
        if stand_in is None:
            continue
        exported = set(getattr(stand_in, "__all__", ()))
        expected = set(module.classes) | set(module.names)
        for name in sorted(expected - exported):
            differences.append(Difference(f"{module_name}:{name}", "missing", "not exported by the stand-in"))
        for name in sorted(exported - expected):
            differences.append(Difference(f"{module_name}:{name}", "extra", "the SDK's module has no such name"))
        for name, function in sorted(module.names.items()):
            if name in exported and function.kind == "function":
                got = _signature_params(getattr(stand_in, name), drop_first=False)
                if got != function.params:
                    differences.append(Difference(f"{module_name}:{name}", "params", _params_detail(function.params, got)))
        for class_name, cls in sorted(module.classes.items()):
            if class_name in exported:
                differences += _diff_class(f"{module_name}:{class_name}", _with_inherited(reference, cls),
                                           getattr(stand_in, class_name), _takes_attributes(reference, cls))
    return differences


def _with_inherited(reference: Surface, cls: ClassSurface) -> ClassSurface:
    """``cls`` with the members of its bases that the reference defines too (``PeopleCount`` gets
    ``BaseEstimation.coreEstimation``); the class's own members win."""
    classes = reference.classes_by_name
    members: dict[str, Member] = {}
    for base in cls.bases:
        if base in classes:
            members.update(_with_inherited(reference, classes[base]).members)
    members.update(cls.members)
    return ClassSurface(cls.name, cls.bases, members, cls.slots)


def _takes_attributes(reference: Surface, cls: ClassSurface) -> bool | None:
    """Whether the SDK's instances of ``cls`` take new attributes: some class along its bases lacks
    ``__slots__``. None for enums and ``NamedTuple``s (their instances are the class's fixed values)."""
    bare = {base.split("[")[0].split(".")[-1] for base in cls.bases}
    if bare & {"Enum", "NamedTuple", "IntEnum"}:
        return None
    classes = reference.classes_by_name
    # Bases outside the SDK: the typing and abc ones have empty __slots__; any other (Exception...) a __dict__.
    slotted_outside = {"ABC", "Generic", "object"}
    return not cls.slots or any(
        _takes_attributes(reference, classes[base]) if base in classes else base not in slotted_outside
        for base in bare
    )


def _diff_class(
    where: str, reference: ClassSurface, cls: type, takes_attributes: bool | None = None
) -> list[Difference]:
    differences = []
    if takes_attributes is not None and takes_attributes != bool(cls.__dictoffset__):
        differences.append(Difference(where, "attributes", f"SDK instances take new attributes: {takes_attributes}, "
                                                           f"stand-in: {bool(cls.__dictoffset__)}"))
    for name, member in sorted(reference.members.items()):
        got = _stand_in_member(cls, name, member)
        place = f"{where}.{name}"
        if got is None:
            differences.append(Difference(place, "missing", f"the SDK has this {member.kind}"))
        elif got.kind != member.kind and {got.kind, member.kind} != {"attribute", "property"}:
            differences.append(Difference(place, "member-kind", f"SDK: {member.kind}, stand-in: {got.kind}"))
        elif member.kind in ("method", "classmethod", "staticmethod") and got.params != member.params:
            differences.append(Difference(place, "params", _params_detail(member.params, got.params)))
        elif member.kind == "property" and got.settable != member.settable:
            differences.append(Difference(place, "setter", f"SDK settable: {member.settable}, stand-in: {got.settable}"))
        elif member.kind == "enum_member" and got.value != member.value:
            differences.append(Difference(place, "value", f"SDK: {member.value}, stand-in: {got.value}"))
    for name in sorted(_public_class_names(cls) - set(reference.members)):
        differences.append(Difference(f"{where}.{name}", "extra", "the SDK's class has no such member"))
    return differences


def _params_detail(expected: tuple[Param, ...], got: tuple[Param, ...]) -> str:
    def show(params: tuple[Param, ...]) -> str:
        return "(" + ", ".join(f"{p.name}:{p.kind}" + (f"={p.default}" if p.default is not None else "") for p in params) + ")"

    return f"SDK {show(expected)}, stand-in {show(got)}"


# --- allowlist and coverage -------------------------------------------------------------------------------------


def load_allowlist(path: str | Path = ALLOWLIST_PATH) -> dict[str, str]:
    """``{difference key: reason}`` from lines ``<where> <kind>  # <reason>``; a line without a reason is an error."""
    allowed: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, reason = line.partition("#")
        if not reason.strip():
            raise ValueError(f"{path}:{number}: an allowlist entry needs a reason after '#': {line!r}")
        allowed[" ".join(key.split())] = reason.strip()
    return allowed


def coverage_markdown(
    reference: Surface, differences: Iterable[Difference], allowlist: Mapping[str, str],
    implemented: Iterable[str] = STAND_IN_MODULES,
) -> str:
    """The covered / core-only / partial / missing table of every name and member of the reference's modules
    the stand-in implements (``implemented``), then the modules answered only by placeholders."""
    found: dict[str, list[Difference]] = {}
    for difference in differences:
        found.setdefault(difference.where, []).append(difference)
    rows: list[str] = []
    counts = dict.fromkeys(("covered", "core-only", "partial", "missing"), 0)
    implemented = set(implemented)
    for module_name, module in sorted(reference.modules.items()):
        if module_name not in implemented:
            continue
        rows += ["", f"## `{module_name}`", "", "| name | kind | status | note |", "|---|---|---|---|"]
        entries = [(name, member.kind) for name, member in sorted(module.names.items())]
        for class_name, cls in sorted(module.classes.items()):
            entries.append((class_name, "class, listed in the README" if class_name in LISTED_TYPES else "class"))
            entries += [(f"{class_name}.{name}", member.kind) for name, member in sorted(cls.members.items())]
        for name, kind in entries:
            where = f"{module_name}:{name}"
            status, notes = "covered", []
            if f"{where} core-only" in allowlist:
                status, notes = "core-only", [allowlist[f"{where} core-only"]]
            owner = where.rsplit(".", 1)[0] if "." in name else None
            if owner is not None and any(d.kind == "missing" for d in found.get(owner, [])):
                status, notes = "core-only", ["its class is a placeholder"]
            for difference in found.get(where, []):
                status = "partial"
                if difference.kind == "missing":
                    # A module-level name is answered by a placeholder; an absent class member is missing.
                    status = "missing" if "." in name else "core-only"
                notes.append(allowlist.get(difference.key, f"{difference.kind}: {difference.detail} (NOT ALLOWLISTED)"))
            counts[status] += 1
            rows.append(f"| `{name}` | {kind} | {status} | {'; '.join(notes).replace('|', '/')} |")
        extras = [d for d in found.get(module_name, []) + [d for w, ds in found.items() if w.startswith(module_name + ":") for d in ds]
                  if d.kind == "extra"]
        if extras:
            rows += ["", "Names the stand-in has and the SDK does not:", ""]
            rows += [f"- `{d.where.split(':', 1)[1]}`: {allowlist.get(d.key, 'NOT ALLOWLISTED')}" for d in extras]
    rows += ["", "## Modules answered by placeholders only", "",
             "Every name of these modules imports; using one (calling, constructing, reading a member) raises",
             "`NotImplementedError` saying it needs the vendor's C++ core (FaceEngine), which the workbench cannot",
             "run.",
             "", "| module | names |", "|---|---|"]
    for module_name, module in sorted(reference.modules.items()):
        if module_name not in implemented:
            names = sorted({*module.classes, *module.names})
            counts["core-only"] += len(names)
            rows.append(f"| `{module_name}` | {', '.join(f'`{n}`' for n in names) or '(no names of its own)'} |")
    header = [
        "# SDK coverage: the workbench's stand-in against the vendor's `lunavl`",
        "",
        f"Generated by `python -m workbench.surface` from the reference sources at commit `{reference.commit}`",
        "(`../shared/reference/lunasdk/COMMIT`, snapshot in `workbench/sdk/reference_surface.json`); do not edit by",
        "hand: `tests/test_sdk_surface.py` fails when this file is stale. The behaviour differences a surface",
        "cannot show are listed at the end (from `workbench/sdk/behaviour_differences.md`).",
        "",
        "- **covered**: present with the SDK's name, kind, parameters (names, kinds, defaults), setters and enum values;",
        "- **core-only**: importable; raises `NotImplementedError` saying it needs the vendor's C++ core (a member",
        "  of the stand-in, or a generated placeholder for a name the stand-in does not implement);",
        "- **partial**: present, with a difference that `workbench/sdk/reference_allowlist.txt` explains;",
        "- **missing**: absent, for the reason given.",
        "",
        f"Totals: {counts['covered']} covered, {counts['core-only']} core-only, {counts['partial']} partial, "
        f"{counts['missing']} missing.",
    ]
    behaviour = BEHAVIOUR_PATH.read_text(encoding="utf-8").rstrip("\n")
    return "\n".join(header + rows) + "\n\n" + behaviour + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.surface [--reference DIR] [--markdown PATH]``: regenerate the snapshot from DIR
    (when given) and the coverage table."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m workbench.surface", description=main.__doc__)
    parser.add_argument("--reference", type=Path,
                        help="the SDK reference folder, ../shared/reference/lunasdk (regenerates the snapshot)")
    parser.add_argument("--markdown", type=Path, default=Path("docs/sdk-coverage.md"), help="where to write the table")
    args = parser.parse_args(argv)
    if args.reference is not None:
        SNAPSHOT_PATH.write_text(extract_surface(args.reference).to_json(), encoding="utf-8")
    reference = load_surface()
    args.markdown.write_text(coverage_markdown(reference, diff_surfaces(reference), load_allowlist()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
