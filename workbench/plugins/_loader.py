"""Finding, checking and importing plugin modules with the service's activation rules.

The service imports every module named in ``LUNA_REMOTE_SDK_ACTIVE_PLUGINS`` from its plugins folder and
activates every non-abstract plugin class found in the module's namespace, imported ones included.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import importlib.machinery
import inspect
import keyword
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Iterable

from ._base import BaseBackgroundPlugin, BaseEventPlugin
from ._contract import SERVICE_PLUGIN_BASES, derives_from, is_service_base
from ._errors import PluginError, PluginRequirementsError
from ._estimator import EstimatorReplacementPlugin
from ._requirements_file import DeclaredRequirement, read_requirements_file

ACTIVE_PLUGINS_ENV = "LUNA_REMOTE_SDK_ACTIVE_PLUGINS"

PLUGIN_KINDS: dict[str, type] = {
    "event": BaseEventPlugin,
    "background": BaseBackgroundPlugin,
    "estimator": EstimatorReplacementPlugin,
}

# The CPU and GPU builds of ONNX Runtime install the same `onnxruntime` module, and only one of them can
# be installed at a time; the service's own example requirements list both.
_INTERCHANGEABLE_DISTRIBUTIONS = [{"onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino"}]


def parse_active_plugins(active: str | Iterable[str] | None) -> list[str]:
    """The active module names, from the argument or else from ``LUNA_REMOTE_SDK_ACTIVE_PLUGINS``.

    Like the service: a comma-separated string (or a list); blanks are dropped and repeats kept once.
    """
    if active is None:
        active = os.environ.get(ACTIVE_PLUGINS_ENV, "")
    if isinstance(active, str):
        active = active.split(",")
    names: list[str] = []
    for raw in active:
        if not isinstance(raw, str):
            raise TypeError(f"active plugin names must be strings like 'my_plugin.plugin', got {raw!r}")
        name = raw.strip()
        if name.endswith(".py"):
            name = name[:-3]
        if name and name not in names:
            names.append(name)
    return names


def plugin_folder(plugins_dir: Path, module: str) -> Path:
    """The folder of the plugin that ``module`` belongs to (its top-level package)."""
    return plugins_dir / module.split(".")[0]


def _installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (a normalised name, as the requirements reader gives it), or of
    a distribution interchangeable with it."""
    names = [distribution]
    for family in _INTERCHANGEABLE_DISTRIBUTIONS:
        if distribution in family:
            names += sorted(family - {distribution})
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def unmet_requirements(requirements_file: Path) -> list[str]:
    """The requirements of ``requirements_file`` (and the files it includes) the running environment does not
    satisfy, with what is installed, and the lines pip would refuse; read as ``pip install -r`` reads them."""
    parsed = read_requirements_file(requirements_file)
    unmet = [str(problem) for problem in parsed.problems]
    constraints = [c for c in parsed.constraints if c.requirement is not None and c.applies_here()]
    for declared in parsed.requirements:
        # Where pip learns the name only by building the source (a path, a bare URL), nothing here can say
        # whether it is installed; importing the plugin will tell.
        if declared.name is None or not declared.applies_here():
            continue
        installed = _installed_version(declared.name)
        if installed is None:
            unmet.append(f"{declared.text} (not installed)")
            continue
        # A constraint file limits the version pip installs of a distribution the requirements name.
        for limit in [declared, *(c for c in constraints if c.name == declared.name)]:
            specifier = limit.requirement.specifier if limit.requirement is not None else None
            if specifier and not specifier.contains(installed, prereleases=True):
                unmet.append(f"{limit.text} (installed {installed}{_origin(limit, requirements_file)})")
    return unmet


def _origin(requirement: DeclaredRequirement, requirements_file: Path) -> str:
    """Where a line comes from, when that is not the plugin's own requirements file."""
    if requirement.file == requirements_file and not requirement.constraint:
        return ""
    return f"; {'constraint' if requirement.constraint else 'requirement'} at {requirement.where}"


def check_requirements(plugins_dir: Path, module: str) -> None:
    """Raise ``PluginRequirementsError`` naming each unmet line of the plugin's ``requirements.txt``."""
    requirements_file = plugin_folder(plugins_dir, module) / "requirements.txt"
    if requirements_file.is_file():
        missing = unmet_requirements(requirements_file)
        if missing:
            raise PluginRequirementsError(module, str(requirements_file), missing)


# Longest module name accepted: file systems refuse path components over 255 bytes, and no plugin needs more.
MAX_MODULE_NAME = 200


def check_plugin_module_name(plugins_dir: Path, module: str, *, written: bool = True) -> None:
    """Refuse, before anything is imported, a name that is not a module of the plugins folder.

    The name must be dotted identifiers, its top-level package (or module) must be in ``plugins_dir``, and the
    import system must resolve that top-level name to the plugins folder, not to the standard library or an
    installed package (the folder comes last on ``sys.path``, so those win and must not be executed here).
    ``written=False`` asks about a plugin not written yet (``workbench new``): the folder's content is not
    looked at, and a name the import system resolves to nothing is free.
    """
    if len(module) > MAX_MODULE_NAME:
        raise PluginError(module[:40] + "...", f"the module name is {len(module)} characters; at most {MAX_MODULE_NAME} are accepted")
    parts = module.split(".")
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise PluginError(module, "not a module name: use dotted Python identifiers such as my_plugin.plugin")
    top = parts[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        raise PluginError(module, f"{top!r} is a standard-library module name; rename the plugin folder")
    if written:
        in_folder = importlib.machinery.PathFinder.find_spec(top, [str(plugins_dir)])
        if in_folder is None:
            looked = " or ".join(str(p) for p in _module_file_candidates(plugins_dir, module))
            raise PluginError(
                module,
                f"no such module in {plugins_dir} (looked for {looked}); check the name in the active plugin "
                f"list ({ACTIVE_PLUGINS_ENV}) and that the folder has an __init__.py",
            )
        if in_folder.origin is None:
            raise PluginError(module, f"{plugins_dir / top} has no __init__.py; add one to make it a plugin package")
    loaded = sys.modules.get(top)
    where = getattr(loaded, "__file__", None) if loaded is not None else None
    if loaded is None:
        spec = importlib.util.find_spec(top)
        if spec is None and not written:
            return
        where = spec.origin if spec is not None else None
    if where is None or plugins_dir.resolve() not in Path(where).resolve().parents:
        raise PluginError(
            module,
            f"the name {top!r} resolves to {where or 'a module without a file'}, outside the plugins folder "
            f"{plugins_dir}: rename the plugin so it does not clash with an installed package",
        )


def _module_file_candidates(plugins_dir: Path, module: str) -> list[Path]:
    base = plugins_dir.joinpath(*module.split("."))
    return [base.with_suffix(".py"), base / "__init__.py"]


def import_plugin_module(plugins_dir: Path, module: str) -> ModuleType:
    """Import ``module`` from ``plugins_dir`` (which the caller has put on ``sys.path``).

    Every failure becomes a ``PluginError`` that says what went wrong and what to fix.
    """
    importlib.invalidate_caches()
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if not missing:  # raised by code, not the import system (strict mode's refusal): its message says it all
            raise PluginError(module, f"import failed: {error}") from error
        if (module == missing or module.startswith(missing + ".")):
            looked = " or ".join(str(p) for p in _module_file_candidates(plugins_dir, module))
            raise PluginError(
                module,
                f"no such module in {plugins_dir} (looked for {looked}); check the name in the active plugin "
                f"list ({ACTIVE_PLUGINS_ENV}) and that the folder has an __init__.py",
            ) from error
        raise PluginError(
            module,
            f"it imports {missing!r}, which is not installed: add it to the plugin's requirements.txt and "
            f"pip install it",
            missing_module=missing,
        ) from error
    except SyntaxError as error:
        raise PluginError(
            module, f"syntax error in {error.filename}, line {error.lineno}: {error.msg}; fix the file and reload"
        ) from error
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # a plugin's import can raise anything
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise PluginError(
            module,
            f"import failed with {type(error).__name__}: {error} (at {where.filename}, line {where.lineno})",
        ) from error
    file = getattr(imported, "__file__", None)
    if file is not None and plugins_dir.resolve() not in Path(file).resolve().parents:
        raise PluginError(
            module,
            f"the name resolves to {file}, outside the plugins folder {plugins_dir}: rename the plugin so it "
            "does not clash with an installed package",
        )
    return imported


def plugin_kind(cls: type) -> str:
    """``"event"``, ``"background"`` or ``"estimator"``: which service base class ``cls`` derives from.

    Judged by the base classes' qualified names along the MRO, so a plugin subclassing the service's real
    ``luna_plugins`` classes (installed beside the workbench) is recognised as well as one of the stand-ins.
    """
    for kind, base in PLUGIN_KINDS.items():
        if derives_from(cls, SERVICE_PLUGIN_BASES[kind], base):
            return kind
    raise TypeError(f"{getattr(cls, '__qualname__', cls)!r} is not a plugin class")


def _is_plugin_class(obj: object) -> bool:
    if not inspect.isclass(obj):
        return False
    if any(is_service_base(obj, SERVICE_PLUGIN_BASES[kind], base) for kind, base in PLUGIN_KINDS.items()):
        return False
    return any(derives_from(obj, SERVICE_PLUGIN_BASES[kind], base) for kind, base in PLUGIN_KINDS.items())


def find_plugin_classes(module_name: str, module: ModuleType) -> list[type]:
    """The non-abstract plugin classes in the module's namespace, in definition order.

    Raises ``PluginError`` when there is none, saying which abstract methods are left where that is why.
    """
    candidates = [obj for obj in vars(module).values() if _is_plugin_class(obj)]
    concrete = [cls for cls in candidates if not inspect.isabstract(cls)]
    if concrete:
        return concrete
    if candidates:
        details = "; ".join(
            f"{cls.__qualname__} leaves {', '.join(sorted(cls.__abstractmethods__))} abstract" for cls in candidates
        )
        raise PluginError(module_name, f"the module has only abstract plugin classes ({details}): implement those methods")
    raise PluginError(
        module_name,
        "the module defines no plugin class: subclass BaseEventPlugin, BaseBackgroundPlugin or "
        "EstimatorReplacementPlugin",
    )


def class_origin(cls: type) -> tuple[str, str]:
    """What identifies a class's source, so that one class imported under two module names is seen once."""
    try:
        source = str(Path(inspect.getfile(cls)).resolve())
    except TypeError:
        source = cls.__module__
    return source, cls.__qualname__


def purge_modules(names: Iterable[str]) -> None:
    """Forget imported modules (and their stale bytecode) so that the next import reads the files again."""
    for name in list(names):
        module = sys.modules.pop(name, None)
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py"):
            cached = Path(importlib.util.cache_from_source(file))
            cached.unlink(missing_ok=True)
