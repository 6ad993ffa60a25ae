"""What the static scan can tell a name holds, without running the plugin: the facts it reads from a whole file
first, and from annotations.

The service hands plugin code a few objects whose members it knows: its application (``self.app``, and the
``app`` a plugin's ``__init__`` is given), monitoring points (the batch ``handleEvent`` gets), and the SDK's
types. A name is bound to one of them only where the code says so (a constructor, an annotation, the
framework's own call); anything else stays unknown and is not judged.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

# The pseudo-class of the service's application, as plugin code reaches it.
APP = "app"
# The pseudo-class of a plugin class's own instance (``self``, and names it is given to: ``plugin = self``).
SELF = "self"

# Framework classes whose instances the service builds with the application: ``__init__(self, app)``.
APP_TAKING_BASES = frozenset({"BaseEventPlugin", "BaseBackgroundPlugin", "BaseBackgroundHandler", "EstimatorReplacementPlugin"})

# Objects the service hands plugin code without an import to name them by (the docs' examples annotate them by
# name, ``point: "MonitoringPoint"``, with a TypeVar of that name).
HANDED_CLASSES = frozenset({"MonitoringPoint"})

# What the SDK's code gives these members (its sources: ``ImageForPeopleEstimation``'s fields, ``VLImage.rect``).
MEMBER_CLASSES: dict[tuple[str, str], str] = {
    ("ImageForPeopleEstimation", "image"): "VLImage",
    ("ImageForPeopleEstimation", "detectArea"): "Rect",
    ("VLImage", "rect"): "Rect",
}
# ``image, detectArea = item``: the fields of a NamedTuple the SDK defines, in order.
UNPACKED_CLASSES: dict[str, tuple[str, ...]] = {"ImageForPeopleEstimation": ("VLImage", "Rect")}

_CONTAINERS = frozenset({"list", "List", "Sequence", "Iterable", "tuple", "Tuple", "Collection"})


@dataclass(frozen=True)
class FileFacts:
    """What a whole file says before its lines are judged one by one."""

    # module-level function -> its parameters that plugin classes pass the application to
    app_parameters: dict[str, frozenset[str]]
    # every attribute name the file sets on something (``x._mine = ...``): the plugin's own, where the
    # service's class takes new attributes
    stored_attributes: frozenset[str]
    # classes the file defines itself (a class of its own named ``MonitoringPoint`` is not the service's)
    local_classes: frozenset[str]


def read_file_facts(module: ast.Module, framework_modules: set[str]) -> FileFacts:
    """The facts of ``module``; ``framework_modules`` are the service's plugin framework's module paths."""
    bases = {
        alias.asname or alias.name
        for node in module.body if isinstance(node, ast.ImportFrom) and node.module in framework_modules
        for alias in node.names if alias.name in APP_TAKING_BASES
    }
    functions = {node.name: node for node in module.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    given: dict[str, set[str]] = {}
    for cls in (node for node in module.body if isinstance(node, ast.ClassDef)):
        if not any(isinstance(base, ast.Name) and base.id in bases for base in cls.bases):
            continue
        for method in (item for item in cls.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))):
            app_names = _app_parameter_of_init(method)
            for call in (n for n in ast.walk(method) if isinstance(n, ast.Call)):
                if isinstance(call.func, ast.Name) and call.func.id in functions:
                    given.setdefault(call.func.id, set()).update(
                        _parameters_given(functions[call.func.id], call, app_names))
    stored = frozenset(
        node.attr for node in ast.walk(module) if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
    )
    local = frozenset(node.name for node in ast.walk(module) if isinstance(node, ast.ClassDef))
    return FileFacts({name: frozenset(params) for name, params in given.items() if params}, stored, local)


def is_self_app(node: ast.AST) -> bool:
    """``self.app``."""
    return (isinstance(node, ast.Attribute) and node.attr == "app" and isinstance(node.value, ast.Name)
            and node.value.id == "self")


def positional_parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [arg.arg for arg in (*function.args.posonlyargs, *function.args.args)]


def class_of_annotation(annotation: ast.AST | None, classes: dict[str, str], local_classes: frozenset[str]) -> str | None:
    """The service class an annotation names: ``Rect``, ``"Rect"``, ``Optional[Rect]``, ``Rect | None``."""
    annotation = _unquoted(annotation)
    if isinstance(annotation, ast.Name):
        if annotation.id in classes:
            return classes[annotation.id]
        return annotation.id if annotation.id in HANDED_CLASSES and annotation.id not in local_classes else None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _one_class(annotation.left, annotation.right, classes, local_classes)
    if isinstance(annotation, ast.Subscript) and _subscripted_name(annotation) == "Optional":
        return class_of_annotation(annotation.slice, classes, local_classes)
    return None


def batch_of_annotation(annotation: ast.AST | None, classes: dict[str, str], local_classes: frozenset[str]) -> str | None:
    """The class of the items of an annotated container: ``list["MonitoringPoint"]``, ``Sequence[Rect]``."""
    annotation = _unquoted(annotation)
    if isinstance(annotation, ast.Subscript) and _subscripted_name(annotation) in _CONTAINERS:
        item = annotation.slice
        if isinstance(item, ast.Tuple):  # tuple[Rect, ...]
            if len(item.elts) != 2 or not (isinstance(item.elts[1], ast.Constant) and item.elts[1].value is Ellipsis):
                return None
            item = item.elts[0]
        return class_of_annotation(item, classes, local_classes)
    return None


def _unquoted(annotation: ast.AST | None) -> ast.AST | None:
    """A string annotation (``"Rect | None"``) as the expression it holds; None where it is not one."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            return ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    return annotation


def _one_class(left: ast.AST, right: ast.AST, classes: dict[str, str], local_classes: frozenset[str]) -> str | None:
    # ``Rect | None`` names one class; ``Rect | VLImage`` does not.
    sides = [side for side in (left, right) if not (isinstance(side, ast.Constant) and side.value is None)]
    return class_of_annotation(sides[0], classes, local_classes) if len(sides) == 1 else None


def _subscripted_name(node: ast.Subscript) -> str | None:
    value = node.value
    if isinstance(value, ast.Name):
        return value.id
    return value.attr if isinstance(value, ast.Attribute) else None


def _app_parameter_of_init(method: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Inside a plugin's ``__init__(self, app)``, the name ``app`` is the application."""
    params = positional_parameters(method)
    return {params[1]} if method.name == "__init__" and len(params) > 1 else set()


def _parameters_given(function: ast.FunctionDef | ast.AsyncFunctionDef, call: ast.Call, app_names: set[str]) -> set[str]:
    """The parameters of ``function`` that ``call`` passes the application to."""
    def is_app(value: ast.AST) -> bool:
        return is_self_app(value) or (isinstance(value, ast.Name) and value.id in app_names)

    params = positional_parameters(function)
    # Positions are known only up to the first *args.
    shown = next((index for index, value in enumerate(call.args) if isinstance(value, ast.Starred)), len(call.args))
    given = {params[index] for index, value in enumerate(call.args[:shown]) if index < len(params) and is_app(value)}
    keywords = {arg.arg for arg in (*function.args.args, *function.args.kwonlyargs)}
    given |= {keyword.arg for keyword in call.keywords if keyword.arg in keywords and is_app(keyword.value)}
    return given
