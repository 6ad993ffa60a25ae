"""The running half of ``workbench check``: load the plugins in a strict host and use them as the service would.

Each event plugin gets a monitoring batch, each route of each background plugin a request over the embedded
server (whose requests also produce monitoring points), each replacement estimator a generated image with
T1, with T2 and with a detect area. Whatever strict mode reports, what fails to load or start, what fails
while used and each duplicate activation becomes a finding at the plugin's line.
"""
from __future__ import annotations

import ast
import inspect
import re
import traceback
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._facade import Workbench
from ..host import DuplicateActivationWarning
from ..plugins import MonitoringPoint
from ..sdk import ImageForPeopleEstimation, Rect, VLImage
from ._findings import DUPLICATE_ACTIVATION, RUNTIME, SDK_SURFACE, WORKBENCH_IMPORT, Finding, display_path

_REQUEST_TIMEOUT = 30.0


def sample_image(width: int = 320, height: int = 240) -> VLImage:
    """A generated RGB picture (a gradient with a few dark heads), so that no data file is needed."""
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.stack([xs * 255 // width, ys * 255 // height, np.full_like(xs, 128)], axis=-1).astype(np.uint8)
    for cx, cy in ((60, 80), (160, 120), (250, 60), (200, 190)):
        picture[(xs - cx) ** 2 + (ys - cy) ** 2 < 144] = (30, 20, 20)
    return VLImage(picture)


def sample_points() -> list[MonitoringPoint]:
    """A batch like the service's request monitoring: one request point and one error point."""
    tags = {"service": "remote-sdk", "route": "GET:/check", "status_code": 500}
    return [
        MonitoringPoint("request", tags=dict(tags), fields={"request_id": "check-1", "execution_time": 0.012}),
        MonitoringPoint("error", tags=dict(tags), fields={"request_id": "check-1", "error_code": 1}),
    ]


def exercise_plugins(
    plugins_dir: Path, active: list[str], *, default_estimators: Mapping[str, Any] | None = None
) -> list[Finding]:
    """Run the active plugins of ``plugins_dir`` in a strict host, use them, and report what went wrong."""
    findings: list[Finding] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wb = Workbench(plugins_dir, active, strict="warn", default_estimators=default_estimators)
        try:
            wb.start()
            findings += _failed_plugins(wb)
            findings += _deliver_events(wb)
            findings += _request_routes(wb)
            findings += _run_estimators(wb)
        finally:
            wb.close()
    for violation in wb.strict_violations:
        kind = WORKBENCH_IMPORT if violation.kind == "import" and violation.member.split(".")[0] == "workbench" else SDK_SURFACE
        findings.append(Finding(display_path(violation.file), violation.line, violation.message.split("; ", 1)[0],
                                violation.instead, kind))
    findings += _duplicate_activations(plugins_dir, caught)
    return findings


def _module_file(plugins_dir: Path, module: str) -> Path:
    base = plugins_dir.joinpath(*module.split("."))
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"


def _where(wb: Workbench, record: Any) -> tuple[str, int]:
    """The file and line of a plugin's class (its module's first line when the module itself failed)."""
    file = _module_file(wb.plugins_dir, record.module)
    line = 1
    if record.instance is not None:
        try:
            file, line = Path(inspect.getsourcefile(type(record.instance)) or file), inspect.getsourcelines(type(record.instance))[1]
        except (OSError, TypeError):
            pass
    elif file.is_file():
        match = re.search(rf"{re.escape(str(file))}, line (\d+)", record.error or "")
        line = int(match.group(1)) if match else 1
    return display_path(file), line


def _failed_plugins(wb: Workbench) -> list[Finding]:
    findings = []
    for record in wb.plugins.failed:
        file, line = _where(wb, record)
        findings.append(Finding(file, line, f"plugin {record.name} fails in a strict host: {record.error}",
                                "fix it and run workbench check again", RUNTIME))
    return findings


def _deliver_events(wb: Workbench) -> list[Finding]:
    findings = []
    records = {record.name: record for record in wb.plugins}
    events = {record.instance.eventName for record in wb.plugins if record.kind == "event" and record.status == "active"}
    for event in sorted(events):
        for delivery in wb.emit(event, sample_points()):
            if delivery.error:
                file, line = _where(wb, records[delivery.plugin])
                findings.append(Finding(file, line, f"{delivery.plugin}.handleEvent failed on a {event} batch: {delivery.error}",
                                        "make handleEvent take the points the service sends (series, tags, fields, eventTime)",
                                        RUNTIME))
    return findings


def _request_routes(wb: Workbench) -> list[Finding]:
    routes = wb.routes
    if not routes:
        return []
    findings = []
    server = wb.serve(port=0)
    try:
        for route in routes:
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            for method in sorted(route.methods):
                status, detail = _request(server.url + path, method.upper())
                if status >= 500:
                    file, line = _handler_location(route.handler, method)
                    findings.append(Finding(file, line, f"{method.upper()} {route.path} answered {status} {detail}".rstrip(),
                                            "see the log (workbench -v check) for the handler's error", RUNTIME))
    finally:
        server.stop()
    return findings


def _request(url: str, method: str) -> tuple[int, str]:
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.read(300).decode(errors="replace")


def _handler_location(handler: Any, method: str) -> tuple[str, int]:
    target = getattr(handler, method, handler) if inspect.isclass(handler) else handler
    try:
        return display_path(inspect.getsourcefile(target) or "?"), inspect.getsourcelines(target)[1]
    except (OSError, TypeError):
        return "?", 1


def _run_estimators(wb: Workbench) -> list[Finding]:
    findings = []
    records = {record.name: record for record in wb.plugins}
    image = sample_image()
    for broker, choices in wb.estimator_choices.items():
        for name in choices:
            if name not in records:
                continue
            file, line = _where(wb, records[name])
            for label, images, targets in (
                ("T1", [image], "T1"),
                ("T2", [image], "T2"),
                ("T1 with a detect area", [ImageForPeopleEstimation(image, Rect(40, 30, 200, 150))], "T1"),
            ):
                try:
                    wb.use(broker, name)
                    wb.estimate(broker, images, targets)
                except Exception as error:  # a plugin's estimator can raise anything; report it, go on
                    file, line = _raising_plugin_line(error, wb.plugins_dir) or (file, line)
                    findings.append(Finding(file, line, f"{name} failed on a sample image ({label}): "
                                            f"{type(error).__name__}: {error}",
                                            "make estimateBatch return one PeopleCount per image for T1 and T2",
                                            RUNTIME))
                    break
    return findings


def _raising_plugin_line(error: BaseException, plugins_dir: Path) -> tuple[str, int] | None:
    """The innermost plugin-code frame of ``error``'s traceback (or of the errors it was raised from)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [f for f in traceback.extract_tb(current.__traceback__) if plugins_dir in Path(f.filename).resolve().parents]
        if frames:
            return display_path(frames[-1].filename), frames[-1].lineno or 1
        current = current.__cause__ or current.__context__
    return None


def _duplicate_activations(plugins_dir: Path, caught: list[warnings.WarningMessage]) -> list[Finding]:
    findings = []
    for warning in caught:
        if not issubclass(warning.category, DuplicateActivationWarning):
            continue
        message = str(warning.message)
        name = re.match(r"plugin class (\S+)", message)
        modules = re.findall(r"(?:already activated from|active module) '([^']+)'", message)
        # The import that brought the class in lies in one of the two modules the warning names.
        file, line = plugins_dir, 1
        for module in modules:
            candidate = _module_file(plugins_dir, module)
            found = _import_line(candidate, name.group(1).split(".")[-1]) if name and candidate.is_file() else None
            if found is not None:
                file, line = candidate, found
                break
        findings.append(Finding(display_path(file), line, message.split(". Activated once.")[0],
                                "the service would activate it twice: use a relative import (from .foo import Bar) "
                                "and do not import plugin classes into other active modules", DUPLICATE_ACTIVATION))
    return findings


def _import_line(file: Path, class_name: str) -> int | None:
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.ImportFrom) and any(alias.name == class_name for alias in node.names):
            return node.lineno
    return None
