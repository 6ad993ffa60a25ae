"""The running half of ``workbench check``: load the plugins in a strict host and use them as the service would.

The run happens in a new, empty working folder: the service's is not the plugin's folder, so code that opens
a file relative to the working folder fails here as there, and the verdict does not depend on where check
runs. Background plugins are started (the service starts them). Each event plugin gets a monitoring batch;
each route of each background plugin a request over the embedded server (whose requests also produce
monitoring points), with the safe methods only (GET, HEAD, OPTIONS) unless writes are asked for; each
replacement estimator the batches the service can send: one image, several of mixed sizes and
orientations, plain images and detect areas mixed, each with T1 and with T2. Whatever strict mode reports,
what fails to load or start, what fails while used (a route's escaped exception, not a status it chose) and
each duplicate activation becomes a finding at the plugin's line. The summary says what was exercised and
which methods were not sent: those handlers were read by the static scan only, not run. (Not a "cannot
verify": check never claims more of a handler than that it ran without an escaped exception, and a plugin
with a POST route would otherwise never pass without ``--exercise-writes``.)
"""
from __future__ import annotations

import ast
import contextlib
import inspect
import logging
import re
import tempfile
import traceback
import uuid
import urllib.error
import urllib.request
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .._facade import Workbench
from ..host import DuplicateActivationWarning
from ..plugins import MonitoringPoint
from ..plugins._errors import missing_module_of
from ..sdk import ImageForPeopleEstimation, Rect, VLImage
from ..sdk._placeholders import NEEDS_CORE
from ._import_sites import requirements_location, run_time_import_findings
from ._requirements import judge_import, read_requirements
from ._findings import (
    CANNOT_VERIFY,
    DUPLICATE_ACTIVATION,
    RUNTIME,
    SDK_SURFACE,
    WORKBENCH_IMPORT,
    Finding,
    display_path,
)

_REQUEST_TIMEOUT = 30.0
# Methods that change nothing on the server (RFC 9110's safe methods a route can take): sent unless told not to.
SAFE_METHODS = ("get", "head", "options")
# The methods addRoute accepts, in the order they are sent and listed (the safe ones first).
_METHOD_ORDER = ("get", "head", "options", "post", "put", "patch", "delete")
# The embedded server logs a request's failure here (an escaped exception, an answer it cannot send) and
# nothing for a status the handler chose: how a deliberate 5xx is told from a failure.
_SERVER_LOGGER = "workbench.server"
# The estimator batches: one image; several of mixed sizes and orientations; plain images and detect areas in one
# batch, as the service's batching of concurrent requests makes them. Each image: width, height, detect area
# (x, y, width, height) or None, and whether a detect area comes as the SDK's ImageForPeopleEstimation or as the
# plain (VLImage, Rect) pair its estimateBatch also takes.
SAMPLE_BATCHES: tuple[tuple[tuple[int, int, tuple[int, int, int, int] | None, bool], ...], ...] = (
    ((320, 240, None, False),),
    ((320, 240, None, False), (257, 419, None, False), (320, 240, None, False)),
    ((320, 240, (40, 30, 200, 150), False), (257, 419, None, False), (257, 419, (17, 33, 180, 301), True)),
)


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


def sample_batches() -> list[tuple[str, list[Any]]]:
    """``SAMPLE_BATCHES`` as estimator inputs (new images each time), each with a description of its shape."""
    batches = []
    for spec in SAMPLE_BATCHES:
        described: list[str] = []
        images: list[Any] = []
        for width, height, area, plain_pair in spec:
            image = sample_image(width, height)
            if area is None:
                described.append(f"{width}x{height}")
                images.append(image)
            else:
                x, y, area_width, area_height = area
                form = "a plain (VLImage, Rect) pair" if plain_pair else "ImageForPeopleEstimation"
                described.append(f"{width}x{height} with detect area {area_width}x{area_height} at ({x}, {y}) as {form}")
                rect = Rect(x, y, area_width, area_height)
                images.append((image, rect) if plain_pair else ImageForPeopleEstimation(image, rect))
        batches.append((f"{len(images)} image{'s' * (len(images) != 1)} ({', '.join(described)})", images))
    return batches


@dataclass
class Exercise:
    """What the strict run found, and what it did to find it (for the check's summary)."""

    findings: list[Finding] = field(default_factory=list)
    # What was used, and how: "started 2 background plugins", "sent GET to 3 routes", "not sent: POST /x ...".
    exercised: list[str] = field(default_factory=list)
    # Answers worth knowing that are no failure: a 5xx a route's handler returned on purpose.
    information: list[str] = field(default_factory=list)


def exercise_plugins(
    plugins_dir: Path, active: list[str], *, default_estimators: Mapping[str, Any] | None = None,
    exercise_writes: bool = False,
) -> Exercise:
    """Run the active plugins of ``plugins_dir`` in a strict host, use them, and report what went wrong.

    The run happens in a new, empty working folder, the caller's restored afterwards; routes get only the
    safe methods (GET, HEAD, OPTIONS) unless ``exercise_writes``; the methods not sent are listed in
    ``exercised``.
    """
    exercise = Exercise()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Not require_installed: the service installs each plugin's requirements, and a plugin may import them
        # only where it uses them; an import that fails here for want of one is said below.
        wb = Workbench(plugins_dir, active, strict="warn", default_estimators=default_estimators,
                       require_installed=False)
        with _empty_working_folder():
            try:
                wb.start()
                exercise.findings += _failed_plugins(wb)
                _note_started(wb, exercise)
                _deliver_events(wb, exercise)
                _request_routes(wb, exercise, exercise_writes)
                _run_estimators(wb, exercise)
            finally:
                wb.close()
    # Paths were found as absolute ones in the empty folder; shown relative to the caller's, as the rest.
    findings = [replace(f, file=display_path(f.file)) if Path(f.file).is_absolute() else f for f in exercise.findings]
    for violation in wb.strict_violations:
        kind = WORKBENCH_IMPORT if violation.kind == "import" and violation.member.split(".")[0] == "workbench" else SDK_SURFACE
        findings.append(Finding(display_path(violation.file), violation.line, violation.message.split("; ", 1)[0],
                                violation.instead, kind))
    findings += run_time_import_findings(plugins_dir, wb.strict_imports)
    findings += _duplicate_activations(plugins_dir, caught)
    exercise.findings = [_needing_the_core(f) if f.kind == RUNTIME and NEEDS_CORE in f.message else f for f in findings]
    return exercise


def _needing_the_core(finding: Finding) -> Finding:
    """A failure of the stand-in where the SDK would use its C++ core (``CoreOnlyError``, whose message is the
    workbench's own and reaches here as text through plugin records and event deliveries too): the service may
    well run that code, the workbench cannot, so it is not a finding but something check could not verify."""
    return replace(finding, kind=CANNOT_VERIFY, fix="the workbench cannot run it; try the plugin where the real "
                   "lunavl answers: workbench check inside the service's image (docs/plugin-authors.md: Inside the "
                   "service's container image)")


@contextlib.contextmanager
def _empty_working_folder() -> Iterator[None]:
    """Run in a new, empty working folder; the caller's comes back afterwards, also on error or when plugin
    code changed folders itself."""
    with tempfile.TemporaryDirectory(prefix="workbench-check-", ignore_cleanup_errors=True) as empty:
        with contextlib.chdir(empty):
            yield


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
    return str(file), line


def _failed_plugins(wb: Workbench) -> list[Finding]:
    findings = []
    for record in wb.plugins.failed:
        file, line = _where(wb, record)
        finding = Finding(file, line, f"plugin {record.name} fails in a strict host: {record.error}",
                          "fix it and run workbench check again", RUNTIME)
        findings.append(_unless_not_installed_here(wb.plugins_dir, record.module, record.missing_module, finding))
    return findings


def _unless_not_installed_here(plugins_dir: Path, module: str, missing: str | None, finding: Finding) -> Finding:
    """``finding``, or, where it failed for want of a module the plugin's requirements.txt declares (or may
    provide) and this environment lacks, something check could not verify: the service installs it."""
    if missing is None:
        return finding
    package = module.split(".")[0]
    where = requirements_location(plugins_dir, package)
    verdict = judge_import(missing, read_requirements(plugins_dir / package / "requirements.txt"), where)
    if verdict.status not in ("declared", "unknown"):
        return finding
    return replace(
        finding, kind=CANNOT_VERIFY,
        message=f"could not run this here: it imports {missing}, which {where} declares (or may provide) and this "
        f"environment does not have ({finding.message})",
        fix=f"install the plugin's requirements here (pip install -r {where}) and check again, or run workbench "
        "check --install",
    )


def _active(wb: Workbench, kind: str) -> list[Any]:
    """The records of the plugins of ``kind`` that loaded and started."""
    return [record for record in wb.plugins if record.kind == kind and record.status == "active"]


def _note_started(wb: Workbench, exercise: Exercise) -> None:
    started = len(_active(wb, "background"))
    if started:
        exercise.exercised.append(f"started {_counted(started, 'background plugin')}")


def _counted(number: int, thing: str) -> str:
    return f"{number} {thing}{'s' * (number != 1)}"


def _deliver_events(wb: Workbench, exercise: Exercise) -> None:
    records = {record.name: record for record in wb.plugins}
    listeners = _active(wb, "event")
    if listeners:
        exercise.exercised.append(f"delivered a monitoring batch to {_counted(len(listeners), 'event plugin')}")
    for event in sorted({record.instance.eventName for record in listeners}):
        for delivery in wb.emit(event, sample_points()):
            if delivery.error:
                file, line = _where(wb, records[delivery.plugin])
                exercise.findings.append(Finding(
                    file, line, f"{delivery.plugin}.handleEvent failed on a {event} batch: {delivery.error}",
                    "make handleEvent take the points the service sends (series, tags, fields, eventTime)", RUNTIME,
                ))


def _request_routes(wb: Workbench, exercise: Exercise, exercise_writes: bool) -> None:
    """Request each route with each method it takes (the safe ones only, unless ``exercise_writes``).

    A 5xx is a finding when the server logged a failure for that request (the handler raised, or answered
    something that cannot be sent), and information when it did not (the handler chose the status).
    """
    routes = wb.routes
    if not routes:
        return
    sent: Counter[str] = Counter()
    not_sent: list[str] = []
    server = wb.serve(port=0)
    try:
        with _server_failures() as failures:
            for route in routes:
                path = re.sub(r"\{[^}]+\}", "1", route.path)
                for method in sorted(route.methods, key=_METHOD_ORDER.index):
                    verb = method.upper()
                    if method not in SAFE_METHODS and not exercise_writes:
                        not_sent.append(f"{verb} {route.path}")
                        continue
                    request_id = f"workbench-check-{uuid.uuid4().hex}"
                    status, detail = _request(server.url + path, verb, request_id)
                    sent[method] += 1
                    if status < 500:
                        continue
                    failure = next((r for r in failures if request_id in r.getMessage()), None)
                    if failure is None:
                        exercise.information.append(
                            f"{verb} {route.path} answered {status} (the handler returned it: not a failure)")
                    else:
                        exercise.findings.append(_route_failure(wb, route, method, status, detail, failure))
    finally:
        server.stop()
    counts = [f"{method.upper()} to {_counted(sent[method], 'route')}" for method in _METHOD_ORDER if sent[method]]
    if counts:
        exercise.exercised.append(f"sent {', '.join(counts)}")
    if not_sent:
        exercise.exercised.append(f"not sent, as they may write: {', '.join(not_sent)} (their handlers were only "
                                  "read, not run; --exercise-writes sends them)")


def _route_failure(
    wb: Workbench, route: Any, method: str, status: int, detail: str, failure: logging.LogRecord
) -> Finding:
    """The finding for a request the server logged as failed: at the raising line when the handler raised."""
    error = failure.exc_info[1] if failure.exc_info else None
    where = _raising_plugin_line(error, wb.plugins_dir) if error is not None else None
    file, line = where or _handler_location(route.handler, method)
    fix = ("an exception that escapes a handler is a 500 in the service too: catch it and answer the status you "
           "mean (see workbench -v check for the server's log)")
    reason = failure.args[-1] if isinstance(failure.args, tuple) and failure.args else None
    if error is not None and where is not None:
        what = f"raised {type(error).__name__}: {error} (the server answered {status})"
    elif failure.exc_info is None and isinstance(reason, Exception):
        # Logged with its reason, not raised: the handler returned an answer the server cannot send.
        what = f"answered {status}: its answer cannot be sent: {reason}"
        fix = ("return pluginHTTPResponse(...) or self.response(...) with a str or bytes body, str headers and an "
               "int statusCode from 200 to 599")
    else:
        what = f"answered {status} {detail}".rstrip()
    finding = Finding(file, line, f"{method.upper()} {route.path} {what}", fix, RUNTIME)
    module = getattr(route.handler, "__module__", None) or ""
    return _unless_not_installed_here(wb.plugins_dir, module, missing_module_of(error), finding) if module else finding


class _Collector(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _server_failures() -> Iterator[list[logging.LogRecord]]:
    """The errors the embedded server logs meanwhile, collected (its logger enabled for them meanwhile)."""
    logger = logging.getLogger(_SERVER_LOGGER)
    handler = _Collector(logging.ERROR)
    level, disabled, propagate = logger.level, logger.disabled, logger.propagate
    silenced = logging.root.manager.disable
    logger.addHandler(handler)
    # Unseen failures would read as deliberate answers: the logger must pass errors on while routes run, even
    # where the process silenced logging (logging.disable); then they reach only the collector, as asked.
    logger.disabled = False
    if silenced >= logging.ERROR:
        logging.disable(logging.WARNING)
        logger.propagate = False
    if not logger.isEnabledFor(logging.ERROR):
        logger.setLevel(logging.ERROR)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.disabled, logger.propagate = disabled, propagate
        logging.disable(silenced)


def _request(url: str, method: str, request_id: str) -> tuple[int, str]:
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.read(300).decode(errors="replace")


def _handler_location(handler: Any, method: str) -> tuple[str, int]:
    target = getattr(handler, method, handler) if inspect.isclass(handler) else handler
    try:
        return inspect.getsourcefile(target) or "?", inspect.getsourcelines(target)[1]
    except (OSError, TypeError):
        return "?", 1


def _run_estimators(wb: Workbench, exercise: Exercise) -> None:
    """Each replacement estimator on each sample batch, with T1 and with T2; its first failure is a finding."""
    records = {record.name: record for record in wb.plugins}
    runs = [(shape, images, targets) for shape, images in sample_batches() for targets in ("T1", "T2")]
    ran = 0
    for broker, choices in wb.estimator_choices.items():
        for name in choices:
            if name not in records:
                continue
            ran += 1
            file, line = _where(wb, records[name])
            for shape, images, targets in runs:
                try:
                    wb.use(broker, name)
                    wb.estimate(broker, images, targets)
                except Exception as error:  # a plugin's estimator can raise anything; report it, go on
                    file, line = _raising_plugin_line(error, wb.plugins_dir) or (file, line)
                    failure = Finding(
                        file, line, f"{name} failed on a batch of {shape}, {targets}: {type(error).__name__}: {error}",
                        "make estimateBatch return one PeopleCount per image, in order, for any batch: several images "
                        "of different sizes, VLImage, ImageForPeopleEstimation(image, detectArea) and plain "
                        "(VLImage, Rect) pairs mixed, T1 and T2", RUNTIME,
                    )
                    exercise.findings.append(
                        _unless_not_installed_here(wb.plugins_dir, records[name].module, missing_module_of(error), failure)
                    )
                    break
    if ran:
        exercise.exercised.append(f"ran {_counted(ran, 'replacement estimator')} on {len(SAMPLE_BATCHES)} batches "
                                  f"of 1 to {max(map(len, SAMPLE_BATCHES))} images, each with T1 and T2")


def _raising_plugin_line(error: BaseException, plugins_dir: Path) -> tuple[str, int] | None:
    """The innermost plugin-code frame of ``error``'s traceback (or of the errors it was raised from)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [f for f in traceback.extract_tb(current.__traceback__) if plugins_dir in Path(f.filename).resolve().parents]
        if frames:
            return frames[-1].filename, frames[-1].lineno or 1
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
