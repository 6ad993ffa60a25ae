"""Each sync/async pair of the host (estimate, emit, use, reload) is one body: the same checks, the same
errors, the same work; the blocking form, called from the host's own loop, is refused naming its await form
and does nothing."""
from __future__ import annotations

import asyncio

import pytest

from helpers.fake_estimators import default_factories, spot_image
from workbench import Workbench
from workbench.host import UnknownEstimatorError

BROKER = "peopleCountEstimator"


def _calls(wb: Workbench, module: str = "absent.plugin"):
    """(blocking form, awaitable form, its name in the refusal) for each pair, with the same arguments."""
    image = spot_image([(4, 4)])
    return [
        (lambda: wb.estimate(BROKER, [image]), lambda: wb.aestimate(BROKER, [image]), "wb.aestimate"),
        (lambda: wb.emit("an_event", []), lambda: wb.aemit("an_event", []), "wb.aemit"),
        (lambda: wb.use(BROKER, "default"), lambda: wb.ause(BROKER, "default"), "wb.ause"),
        (lambda: wb.reload(module), lambda: wb.areload(module), "wb.areload"),
    ]


def _error(call) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as caught:
        result = call()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return type(caught.value), str(caught.value)


@pytest.mark.parametrize(
    "bad_call",
    [
        lambda wb: (lambda: wb.estimate(BROKER, spot_image([])), lambda: wb.aestimate(BROKER, spot_image([]))),
        lambda wb: (lambda: wb.estimate("nobody", []), lambda: wb.aestimate("nobody", [])),
        lambda wb: (lambda: wb.use(BROKER, "nobody"), lambda: wb.ause(BROKER, "nobody")),
        lambda wb: (lambda: wb.reload("not a module"), lambda: wb.areload("not a module")),
    ],
    ids=["images not a list", "unknown broker", "unknown estimator", "bad module name"],
)
def test_both_forms_refuse_a_bad_call_with_the_same_error(plugin_folder, bad_call):
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        blocking, awaitable = bad_call(wb)
        error = _error(blocking)
        assert error == _error(awaitable)
        assert error[0] in (TypeError, ValueError, UnknownEstimatorError)


def test_both_forms_refuse_a_host_that_is_not_running_alike(plugin_folder):
    wb = Workbench(plugin_folder.root, [], default_estimators=default_factories())
    for blocking, awaitable, _ in _calls(wb):
        error = _error(blocking)
        assert error == _error(awaitable) and error[0] is RuntimeError and "call wb.start()" in error[1]


def test_both_forms_do_the_same_work(plugin_folder):
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        blocking, awaitable, _ = _calls(wb)[0]

        async def awaited():
            return await awaitable()

        assert [r.count for r in blocking()] == [r.count for r in asyncio.run(awaited())] == [1]


def test_each_blocking_form_is_refused_on_the_host_loop_naming_its_await_form_and_does_nothing(plugin_folder):
    module = plugin_folder.add("no_plugins", "VALUE = 1\n")
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        for blocking, _, async_form in _calls(wb, module):
            async def plugin_code():
                return blocking()

            with pytest.raises(RuntimeError, match=f"use `await {async_form}"):
                asyncio.run_coroutine_threadsafe(plugin_code(), wb.loop).result(timeout=5)
        assert wb.active_plugins == [], "the refused reload added no module"
        assert wb.estimators == {BROKER: "default"}
