"""``workbench check`` against the corpus in tests/check_corpus/: plugins written from the service's docs and the
SDK's sources (not from the workbench's examples), each with the verdict the real service would give.

Each case is ``tests/check_corpus/<case>/case.json`` plus ``<case>/plugins/`` (the plugins folder the check
gets). The check runs on a copy of that folder from an empty working directory, so neither the repository's
folder nor a plugin writing to its own files (the point of issue 28, finding 11) can change the corpus or the
verdict. Verdicts map to exit codes: pass 0, fail 1, cannot-verify 3. A "fail" case lists the finding kinds it
expects; "a|b" accepts either, where strict mode and the run may both rightly diagnose the same use.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from workbench.authoring import KINDS, check_plugins

# Every case is a whole `workbench check` run (about 1-2 s each, 60-odd cases).
pytestmark = pytest.mark.slow
CORPUS = Path(__file__).resolve().parent / "check_corpus"
VERDICTS = {"pass": 0, "fail": 1, "cannot-verify": 3}
REQUIRED_KEYS = {"active", "verdict", "kinds", "finding", "why"}
# "unchanged": plugin files (relative to plugins/) the check must leave as they are; "exercise_writes": run the
# check with exercise_writes=True, as the author of a plugin wired to nothing that matters is told to.
OPTIONAL_KEYS = {"unchanged", "exercise_writes"}
MINIMUM_CASES = 40


def _case_dirs() -> list[Path]:
    return sorted(path for path in CORPUS.iterdir() if (path / "case.json").is_file())


def _load_case(case_dir: Path) -> dict[str, Any]:
    return json.loads((case_dir / "case.json").read_text(encoding="utf-8"))


def _digest(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def _problems(case_dir: Path, case: Any) -> list[str]:
    """What is wrong with one case.json (empty when it is well formed)."""
    if not isinstance(case, dict):
        return ["case.json is not a JSON object"]
    problems = []
    missing, unknown = REQUIRED_KEYS - case.keys(), case.keys() - REQUIRED_KEYS - OPTIONAL_KEYS
    if missing:
        problems.append(f"missing keys {sorted(missing)}")
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    if case.get("verdict") not in VERDICTS:
        problems.append(f"verdict {case.get('verdict')!r} is not one of {sorted(VERDICTS)}")
    kinds = case.get("kinds")
    if not isinstance(kinds, list) or not all(isinstance(kind, str) and set(kind.split("|")) <= set(KINDS) for kind in kinds):
        problems.append(f"kinds {kinds!r} must be a list of {KINDS} (or 'a|b': either of two)")
    elif (case.get("verdict") == "fail") != bool(kinds):
        problems.append("kinds must name the expected findings of a 'fail' case, and only of one")
    finding = case.get("finding")
    if finding is not None and not (
        isinstance(finding, str) and all(part.strip().isdigit() and 1 <= int(part) <= 13 for part in finding.split(","))
    ):
        problems.append(f"finding {finding!r} must be null or issue 28's finding numbers ('3' or '4,13')")
    if not isinstance(case.get("why"), str) or len(case.get("why", "")) < 40:
        problems.append("why must say in a sentence or two what the service would do and why")
    active = case.get("active")
    if not isinstance(active, str) or not active.strip():
        problems.append("active must be a comma-separated list of modules")
    else:
        for module in active.split(","):
            parts = module.strip().split(".")
            base = case_dir.joinpath("plugins", *parts)
            if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
                problems.append(f"active module {module.strip()} has no file under plugins/")
    if not isinstance(case.get("exercise_writes", False), bool):
        problems.append("exercise_writes must be true or false")
    for relative in case.get("unchanged", []):
        if not (case_dir / "plugins" / relative).is_file():
            problems.append(f"unchanged file {relative} does not exist under plugins/")
    return problems


def test_corpus_is_large_enough_and_well_formed() -> None:
    """The corpus has at least 40 cases, and every case.json says what the check needs and why."""
    cases = _case_dirs()
    assert len(cases) >= MINIMUM_CASES, f"only {len(cases)} cases in {CORPUS}"
    strays = [path.name for path in CORPUS.iterdir() if path.is_dir() and path.name != "__pycache__"
              and not (path / "case.json").is_file()]
    assert not strays, f"folders without a case.json: {strays}"
    problems = {case_dir.name: _problems(case_dir, _load_case(case_dir)) for case_dir in cases}
    assert not {name: found for name, found in problems.items() if found}
    verdicts = {_load_case(case_dir)["verdict"] for case_dir in cases}
    assert verdicts == set(VERDICTS), f"the corpus should hold every verdict, has {verdicts}"


@pytest.mark.parametrize("case_dir", _case_dirs(), ids=lambda path: path.name)
def test_check_gives_the_services_verdict(case_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_plugins`` agrees with the verdict the service would give on this case (issue 28, "Done when"; the
    case's ``finding`` names the numbered finding it covers)."""
    case = _load_case(case_dir)
    plugins = tmp_path / "plugins"
    shutil.copytree(case_dir / "plugins", plugins)
    unchanged = {relative: _digest(plugins / relative) for relative in case.get("unchanged", [])}
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    report = check_plugins(plugins, case["active"], exercise_writes=case.get("exercise_writes", False))

    explanation = f"\n--- check said ---\n{report}\n--- the service would {case['verdict']}: {case['why']}"
    expected_code = VERDICTS[case["verdict"]]
    assert report.exit_code == expected_code, f"exit code {report.exit_code}, expected {expected_code}{explanation}"
    if case["verdict"] == "fail":
        found = {finding.kind for finding in report.findings}
        missing = [kind for kind in case["kinds"] if not set(kind.split("|")) & found]
        assert not missing, f"expected kinds {missing}, found {sorted(found)}{explanation}"
    changed = [relative for relative, digest in unchanged.items() if _digest(plugins / relative) != digest]
    assert not changed, f"the check wrote to the plugin's {changed}{explanation}"
