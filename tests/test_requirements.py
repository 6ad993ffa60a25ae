"""One requirements reader for the host and ``workbench check``, read as pip reads a file (checked against pip's
own parser), and the mapping from imports to the distributions that provide them (issue 28, findings 7 and 8)."""
from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from pip._internal.exceptions import InstallationError
from pip._internal.network.session import PipSession
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import parse_requirements

from helpers.fake_estimators import default_factories
from workbench import Workbench
from workbench.authoring import check_plugins
from workbench.authoring._findings import CANNOT_VERIFY, REQUIREMENTS, UNDECLARED_IMPORT
from workbench.authoring._import_names import DISTRIBUTION_IMPORTS, _installed_import_names
from workbench.authoring._requirements import judge_import, read_requirements
from workbench.plugins._requirements_file import normalise_name, read_requirements_file

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64

# Files pip reads without error, each exercising what a line-by-line reader gets wrong. Written under one folder,
# relative includes and all; the first file named is the one read.
TRICKY_FILES: dict[str, dict[str, str]] = {
    "comments": {
        "requirements.txt": (
            "# a comment line\n"
            "   # an indented comment\n"
            "\n"
            "numpy>=1.24   # after whitespace: a comment\n"
            "pandas<3\t# after a tab\n"
            "# a comment ending in a backslash does not continue \\\n"
            "scipy\n"
        ),
    },
    "continuations": {
        "requirements.txt": (
            "onnxruntime\\\n"
            ">=1.22.0\n"
            "requests \\\n"
            "    [socks] \\\n"
            "    >=2.0\n"
            "attrs>=20 \\\n"
        ),
    },
    "includes_and_constraints": {
        "requirements.txt": "-r sub/more.txt\n--requirement=other.txt\n-c constraints.txt\npillow\n",
        "sub/more.txt": "scipy>=1.0\n-r ../third.txt\n",
        "other.txt": "pyyaml\n",
        "third.txt": "pandas<3\n",
        "constraints.txt": "numpy<3\npillow>=9\n",
    },
    "options": {
        "requirements.txt": (
            "--index-url https://pypi.org/simple\n"
            "-i https://pypi.org/simple\n"
            "--extra-index-url=https://example.com/simple\n"
            "-f ./wheels\n"
            "--find-links https://example.com/wheels\n"
            "--pre\n"
            "--trusted-host example.com\n"
            "--no-binary :all:\n"
            "--only-binary=:none:\n"
            "--prefer-binary\n"
            "--no-index\n"
            "numpy\n"
        ),
    },
    "hashes": {
        "requirements.txt": (
            f"onnxruntime==1.22.0 --hash=sha256:{DIGEST_A} --hash=sha256:{DIGEST_B}\n"
            f"numpy==1.26.4 \\\n    --hash=sha256:{DIGEST_A} \\\n    --hash sha512:{'c' * 128}\n"
        ),
    },
    "markers_extras_urls": {
        "requirements.txt": (
            'numpy>=1.24; python_version < "3.99"\n'
            "pywin32 ; sys_platform == 'win32'\n"
            "requests[socks,security]>=2\n"
            "pkg @ https://example.com/pkg-1.0.tar.gz\n"
            'other-pkg @ https://example.com/other_pkg-2.0-py3-none-any.whl ; python_version >= "3.8"\n'
            "https://example.com/wheels/Some_Pkg-2.0-py3-none-any.whl\n"
            "git+https://github.com/example/tool.git@v1#egg=tool-lib\n"
        ),
    },
    "editables": {
        "requirements.txt": ("-e git+https://github.com/example/y.git#egg=yproj\n--editable ./localpkg\n"
                             "-e 'tool2[cli] @ git+https://github.com/example/tool2.git'\n"),
        "localpkg/pyproject.toml": "[project]\nname = 'localpkg'\nversion = '1'\n",
    },
    "environment_variables": {
        "requirements.txt": "${WB_TEST_DISTRIBUTION}>=1\nscipy\n",
    },
}


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder / next(iter(files))


def _pip_view(path: Path) -> set[tuple]:
    """What pip's own parser reads in ``path``: (name, specifier, marker, extras, hashes, constraint, editable)."""
    seen = set()
    for parsed in parse_requirements(str(path), session=PipSession()):
        installed = install_req_from_parsed_requirement(parsed)
        req = installed.req
        hashes = tuple(sorted(f"{algorithm}:{digest}" for algorithm, digests in (parsed.options or {}).get("hashes", {}).items()
                              for digest in digests))
        seen.add((normalise_name(req.name) if req else None,
                  str(req.specifier) if req and not (req.url or installed.link) else "",
                  str(installed.markers) if installed.markers else None,
                  tuple(sorted(installed.extras)), hashes, parsed.constraint, parsed.is_editable))
    return seen


def _our_view(path: Path) -> set[tuple]:
    parsed = read_requirements_file(path)
    assert not parsed.problems, parsed.problems
    return {(r.name,
             str(r.requirement.specifier) if r.requirement and not r.requirement.url else "",
             str(r.marker) if r.marker else None,
             tuple(sorted(r.requirement.extras)) if r.requirement else (),
             tuple(sorted(r.hashes)), r.constraint, r.editable)
            for r in [*parsed.requirements, *parsed.constraints]}


@pytest.mark.parametrize("case", sorted(TRICKY_FILES))
def test_reader_reads_what_pip_reads(case, tmp_path, monkeypatch):
    """Finding 7: the one reader agrees with pip's own parser on files a line-by-line reader gets wrong."""
    monkeypatch.setenv("WB_TEST_DISTRIBUTION", "attrs")
    monkeypatch.chdir(tmp_path)  # pip finds a local path (./localpkg) from the working folder
    path = _write(tmp_path, TRICKY_FILES[case])
    assert _our_view(path) == _pip_view(path)


def test_each_requirement_knows_its_file_and_line(tmp_path):
    path = _write(tmp_path, TRICKY_FILES["includes_and_constraints"])
    parsed = read_requirements_file(path)
    assert {(r.name, r.file.name, r.line) for r in parsed.requirements} == {
        ("scipy", "more.txt", 1), ("pandas", "third.txt", 1), ("pyyaml", "other.txt", 1), ("pillow", "requirements.txt", 4)}
    assert {(c.name, c.constraint) for c in parsed.constraints} == {("numpy", True), ("pillow", True)}
    continued = read_requirements_file(_write(tmp_path / "c", TRICKY_FILES["continuations"]))
    assert [(r.name, r.line) for r in continued.requirements] == [("onnxruntime", 1), ("requests", 3), ("attrs", 6)]


def test_include_loop_and_missing_include_name_file_and_line(tmp_path):
    """What pip refuses is named with file, line and the fix; pip refuses the same files."""
    looping = _write(tmp_path, {"requirements.txt": "numpy\n-r more.txt\n", "more.txt": "scipy\n-r requirements.txt\n"})
    problems = read_requirements_file(looping).problems
    assert [(p.file.name, p.line) for p in problems] == [("more.txt", 2)]
    assert "includes itself again" in problems[0].message and "-r" in problems[0].fix
    missing = _write(tmp_path / "m", {"requirements.txt": "numpy\n\n--requirement nowhere.txt\n"})
    problems = read_requirements_file(missing).problems
    assert [(p.file, p.line) for p in problems] == [(missing, 3)]
    assert "nowhere.txt" in problems[0].message
    for refused in (looping, missing):
        with pytest.raises(InstallationError):
            list(parse_requirements(str(refused), session=PipSession()))


@pytest.mark.parametrize("line", ["this is not valid==", "numpy --no-such-option", "numpy --hash=md5:abc",
                                  "numpy --hash", "${WB_SURELY_UNSET_VARIABLE}>=1"])
def test_lines_pip_refuses_are_problems(line, tmp_path):
    path = _write(tmp_path, {"requirements.txt": f"scipy\n{line}\n"})
    problems = read_requirements_file(path).problems
    assert [(p.file, p.line) for p in problems] == [(path, 2)] and problems[0].fix
    with pytest.raises(InstallationError):
        for parsed in parse_requirements(str(path), session=PipSession()):
            install_req_from_parsed_requirement(parsed)


def test_byte_order_mark_is_read_as_pip_reads_it(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"numpy>=1\n")
    assert _our_view(path) == _pip_view(path)


GOOD = """
    from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

    class Hashed(BaseEventPlugin):
        eventName = "e"
        async def handleEvent(self, points, logger):
            pass
"""


def test_host_loads_a_plugin_whose_requirements_use_includes_hashes_and_continuations(plugin_folder):
    """Finding 7: the host used to refuse such a plugin (a hash option or an include line was 'not met')."""
    module = plugin_folder.add("hashed", GOOD, requirements=(
        "-r base.txt\n"
        "-c constraints.txt\n"
        "--index-url https://pypi.org/simple\n"
        f"numpy>=1.0 \\\n    --hash=sha256:{DIGEST_A} \\\n    --hash=sha256:{DIGEST_B}\n"
        'packaging>=20 ; python_version >= "3.8"  # the stand-in needs it\n'
    ))
    (plugin_folder.root / "hashed" / "base.txt").write_text("# shared\npillow\n")
    (plugin_folder.root / "hashed" / "constraints.txt").write_text("numpy<99\n")
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        assert wb.plugins[0].status == "active", wb.plugins[0].error


def test_host_names_an_unmet_requirement_in_an_included_file(plugin_folder):
    module = plugin_folder.add("needy_include", GOOD, requirements="-r base.txt\n-c limits.txt\nnumpy\n")
    (plugin_folder.root / "needy_include" / "base.txt").write_text("surely-not-a-real-distribution-xyz\n")
    (plugin_folder.root / "needy_include" / "limits.txt").write_text("numpy<1.0\n")
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        error = wb.plugins[0].error
        assert wb.plugins[0].status == "failed"
        assert "surely-not-a-real-distribution-xyz (not installed)" in error
        assert "numpy<1.0 (installed" in error and "limits.txt, line 1" in error


# -- which distribution provides a module (finding 8) --------------------------------------------------------

PLUGIN = """
    from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin
    {imports}

    class Uses(BaseEventPlugin):
        eventName = "e"
        async def handleEvent(self, points, logger):
            pass
"""

# Import -> the distribution that provides it under another name; none of these is installed here.
RENAMED = {
    "cv2": "opencv-python-headless",
    "psycopg2": "psycopg2-binary",
    "bson": "pymongo",
    "gridfs": "pymongo",
    "grpc": "grpcio",
    "dns.resolver": "dnspython",
    "jose.jwt": "python-jose",
    "google.cloud.storage": "google-cloud-storage",
    "jwt": "pyjwt",
    "Crypto.Cipher": "pycryptodome",
    "paho.mqtt.client": "paho-mqtt",
    "kafka": "kafka-python",
    "confluent_kafka": "confluent-kafka",
    "magic": "python-magic",
    "sklearn": "scikit-learn",
}


def _static(plugin_folder, name, imports, requirements):
    module = plugin_folder.add(name, PLUGIN.format(imports=imports), requirements=requirements)
    return check_plugins(plugin_folder.root, [module], run=False)


def test_declared_distribution_provides_its_differently_named_modules(plugin_folder):
    """Finding 8: declaring opencv-python-headless declares cv2 (and so on), though none is installed here."""
    imports = "\n    ".join(f"import {module}" for module in RENAMED)
    report = _static(plugin_folder, "renamed", imports, "".join(f"{d}\n" for d in sorted(set(RENAMED.values()))))
    assert report.ok and report.exit_code == 0 and not report.unverified, str(report)


def test_advice_names_the_distribution_that_provides_the_module(plugin_folder):
    """Finding 8: 'add bson' named an unrelated project; the advice names the one providing the module."""
    report = _static(plugin_folder, "advice", "import bson\n    import cv2\n    import google.cloud.storage", "protobuf\n")
    fixes = {f.line: f.fix for f in report.findings if f.kind == UNDECLARED_IMPORT}
    assert len(fixes) == 3, str(report)
    bson, cv2, storage = (fixes[line] for line in sorted(fixes))
    assert "add pymongo to" in bson and "bson" not in bson.replace(str(plugin_folder.root), "")
    assert "add opencv-python-headless (or opencv-python" in cv2
    assert "add google-cloud-storage to" in storage  # protobuf installs google.protobuf, not google.cloud


def test_unknown_provider_is_not_guessed(plugin_folder):
    """Finding 8: no distribution is named when nothing says which one provides the module."""
    report = _static(plugin_folder, "unknown_module", "import frobnicate_xyz", "")
    [finding] = report.findings
    assert "declare in" in finding.fix and "its name on PyPI may differ from frobnicate_xyz" in finding.fix
    assert "add frobnicate_xyz" not in finding.fix


def test_declared_distribution_of_unknown_contents_cannot_be_verified(plugin_folder):
    """Finding 8: a declared distribution neither installed nor in the table might provide the module, so check
    says it cannot tell (exit 3) and how to find out, instead of accusing."""
    report = _static(plugin_folder, "in_house", "import acme_vision", "acme-vision-toolkit>=2\n")
    assert not report.findings and report.exit_code == 3
    [unverified] = report.unverified
    assert unverified.kind == CANNOT_VERIFY and "acme-vision-toolkit" in unverified.message
    assert "pip install -r" in unverified.fix and "workbench check --install" in unverified.fix


def test_unnamed_requirement_cannot_be_verified(tmp_path):
    requirements_file = _write(tmp_path, {"requirements.txt": "./vendored/lib\n"})
    verdict = judge_import("vendored_lib", read_requirements(requirements_file), "requirements.txt")
    assert verdict.status == "unknown" and "./vendored/lib (line 1)" in verdict.message


def test_check_reads_requirements_as_the_host_does(plugin_folder):
    """Finding 7: check used to skip include lines, so an included requirement was 'undeclared'."""
    module = plugin_folder.add("included", PLUGIN.format(imports="import scipy"), requirements="-r base.txt\n")
    (plugin_folder.root / "included" / "base.txt").write_text("scipy \\\n  >=1.0 --hash=sha256:" + DIGEST_A + "\n")
    report = check_plugins(plugin_folder.root, [module], run=False)
    assert report.ok and not report.unverified, str(report)
    broken = plugin_folder.add("broken_include", PLUGIN.format(imports=""), requirements="numpy\n-r missing.txt\n")
    report = check_plugins(plugin_folder.root, [broken], run=False)
    assert [(f.kind, f.line) for f in report.findings] == [(REQUIREMENTS, 2)]


def test_table_agrees_with_installed_metadata():
    """The table's entries for distributions installed here name modules their metadata lists."""
    checked = 0
    for distribution, modules in DISTRIBUTION_IMPORTS.items():
        installed = _installed_import_names(distribution)
        if installed is not None:
            checked += 1
            assert set(modules) <= installed, (distribution, sorted(installed))
    assert checked >= 10  # numpy, scipy, pillow, pyyaml, attrs, ... are installed in the project's environment
