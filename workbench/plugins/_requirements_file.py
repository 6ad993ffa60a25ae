"""Reading a ``requirements.txt`` the way ``pip install -r`` reads it.

The host (which refuses a plugin whose requirements are not met) and ``workbench check`` (which judges a
plugin's imports against what it declares) both read requirements through :func:`read_requirements_file`,
so they cannot disagree about a file. What pip accepts is read: comments, blank lines, backslash
continuations, ``${VAR}`` expansion, ``-r``/``-c`` includes relative to the including file, global options,
per-requirement options (``--hash``), environment markers, direct references, editables and extras. Each
requirement keeps its file and line; whatever pip would refuse becomes a :class:`RequirementsProblem` naming
file, line and the fix.
"""
from __future__ import annotations

import codecs
import dataclasses
import os
import re
import shlex
import urllib.parse
from pathlib import Path

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement


def normalise_name(name: str) -> str:
    """A distribution name as PyPI compares names (PEP 503): ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclasses.dataclass(frozen=True)
class DeclaredRequirement:
    """One requirement line: what it asks for, and where it is written.

    ``name`` is the normalised distribution name, or None where pip learns the name only by building the
    source (a local path, or a URL without ``#egg=`` or a wheel file name). ``requirement`` is the parsed
    PEP 508 form where the line has one (specifier, extras, marker, ``name @ url``).
    """

    text: str
    file: Path
    line: int
    name: str | None
    requirement: Requirement | None = None
    marker: Marker | None = None
    editable: bool = False
    constraint: bool = False
    hashes: tuple[str, ...] = ()

    def applies_here(self) -> bool:
        """Whether pip would install it in this environment (its marker, if any, holds)."""
        return self.marker is None or self.marker.evaluate({"extra": ""})

    @property
    def where(self) -> str:
        return f"{self.file}, line {self.line}"


@dataclasses.dataclass(frozen=True)
class RequirementsProblem:
    """A line pip would refuse (or a file it could not read), with what to do about it."""

    file: Path
    line: int
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}; {self.fix}"


@dataclasses.dataclass
class RequirementsFile:
    """What one ``requirements.txt`` (with the files it includes) declares and constrains."""

    path: Path
    requirements: list[DeclaredRequirement] = dataclasses.field(default_factory=list)
    constraints: list[DeclaredRequirement] = dataclasses.field(default_factory=list)
    problems: list[RequirementsProblem] = dataclasses.field(default_factory=list)


# pip's requirements-file options: long name -> whether it takes a value. Short forms map to long ones.
_GLOBAL_OPTIONS: dict[str, bool] = {
    "--index-url": True, "--pypi-url": True, "--extra-index-url": True, "--no-index": False,
    "--constraint": True, "--requirement": True, "--editable": True, "--find-links": True,
    "--no-binary": True, "--only-binary": True, "--prefer-binary": False, "--require-hashes": False,
    "--no-require-hashes": False, "--pre": False, "--all-releases": True, "--only-final": True,
    "--trusted-host": True, "--use-feature": True,
}
_REQUIREMENT_OPTIONS: dict[str, bool] = {"--hash": True, "--config-settings": True}
_ALL_OPTIONS = {**_GLOBAL_OPTIONS, **_REQUIREMENT_OPTIONS}
_SHORT_OPTIONS = {"-i": "--index-url", "-c": "--constraint", "-r": "--requirement", "-e": "--editable",
                  "-f": "--find-links", "-C": "--config-settings"}
_HASH_ALGORITHMS = ("sha256", "sha384", "sha512")  # the ones pip accepts in --hash

_COMMENT = re.compile(r"(^|\s+)#.*$")
# pip expands only ${NAME} with POSIX names (upper case, digits, underscore), and only when it is set.
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_URL_SCHEMES = ("http", "https", "file", "ftp")
_VCS = ("git", "hg", "svn", "bzr")
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".tar.lz")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def read_requirements_file(path: Path) -> RequirementsFile:
    """Read ``path`` and every file it includes as pip would; problems are collected, never raised."""
    result = RequirementsFile(path)
    _read_into(result, path, constraint=False, including=[])
    return result


def _read_into(result: RequirementsFile, path: Path, *, constraint: bool, including: list[tuple[Path, int]]) -> None:
    try:
        content = _decode(path.read_bytes())
    except (OSError, UnicodeDecodeError, LookupError) as error:
        named_in, named_at = including[-1] if including else (path, 1)
        kind = "constraints" if constraint else "requirements"
        result.problems.append(RequirementsProblem(
            named_in, named_at, f"cannot read the {kind} file {path} ({error})",
            "check the path (relative to the file that names it) and that the file is readable UTF-8 text",
        ))
        return
    for number, line in _logical_lines(content):
        _read_line(result, path, number, line, constraint=constraint, including=including)


def _decode(data: bytes) -> str:
    """Text as pip decodes a requirements file: a byte-order mark, else a PEP 263 coding line, else UTF-8."""
    # UTF-32 marks first: the UTF-16 little-endian mark is a prefix of UTF-32's.
    for mark, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                           (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
                           (codecs.BOM_UTF16_LE, "utf-16-le")):
        if data.startswith(mark):
            return data[len(mark):].decode(encoding)
    for first in data.split(b"\n")[:2]:
        declared = re.search(rb"coding[:=]\s*([-\w.]+)", first) if first.startswith(b"#") else None
        if declared:
            return data.decode(declared.group(1).decode("ascii"))
    return data.decode("utf-8")


def _logical_lines(content: str) -> list[tuple[int, str]]:
    """Joined continuation lines (numbered by their first line), comments stripped, blanks dropped, ``${VAR}``
    expanded: pip's order, which is why a comment line never continues and a continued comment swallows the
    next line."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(content.splitlines(), start=1):
        if raw.endswith("\\") and not _COMMENT.match(raw):
            if not pending:
                first = number
            pending.append(raw.strip("\\"))
            continue
        if _COMMENT.match(raw):
            raw = " " + raw  # so the comment still matches after being joined to a previous line
        if pending:
            joined.append((first, "".join(pending) + raw))
            pending = []
        else:
            joined.append((number, raw))
    if pending:
        joined.append((first, "".join(pending)))
    lines = []
    for number, line in joined:
        line = _COMMENT.sub("", line).strip()
        if line:
            lines.append((number, _ENV_VAR.sub(lambda m: os.environ.get(m.group(1)) or m.group(0), line)))
    return lines


def _read_line(result: RequirementsFile, path: Path, number: int, line: str, *, constraint: bool,
               including: list[tuple[Path, int]]) -> None:
    def problem(message: str, fix: str) -> None:
        result.problems.append(RequirementsProblem(path, number, message, fix))

    # Like pip: the requirement is everything before the first space-separated word that starts with "-";
    # only the rest is split shell-style (markers could not survive that).
    words = line.split(" ")
    start = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    argument, option_text = " ".join(words[:start]).strip(), " ".join(words[start:])
    try:
        options = _parse_options(shlex.split(option_text))
    except ValueError as error:
        problem(f"pip cannot read the options in {line!r} ({error})",
                "write pip options as in 'pip install --help' (e.g. --hash=sha256:<digest>), one requirement per line")
        return
    hashes = tuple(value for name, value in options if name == "--hash")
    bad_hash = next((h for h in hashes if h.partition(":")[0] not in _HASH_ALGORITHMS or not h.partition(":")[2]), None)
    if bad_hash is not None:
        problem(f"--hash={bad_hash} is not a hash pip accepts",
                f"write --hash=<algorithm>:<hex digest> with one of {', '.join(_HASH_ALGORITHMS)}")
        return
    editables = [value for name, value in options if name == "--editable"]
    if argument or editables:
        parsed = _parse_requirement(argument or editables[0], path, number, editable=not argument)
        if isinstance(parsed, RequirementsProblem):
            result.problems.append(parsed)
            return
        parsed = dataclasses.replace(parsed, constraint=constraint, hashes=hashes)
        (result.constraints if constraint else result.requirements).append(parsed)
        return
    # pip follows one include per line: the first -r, else the first -c.
    included = [v for n, v in options if n == "--requirement"] or [v for n, v in options if n == "--constraint"]
    if included:
        is_constraint = not any(n == "--requirement" for n, _ in options)
        _include(result, path, number, included[0], constraint=is_constraint, including=including)


def _parse_options(tokens: list[str]) -> list[tuple[str, str]]:
    """``(long option, value)`` pairs, as optparse reads pip's options (``--opt=v``, ``--opt v``, ``-xv``,
    ``-x v``, unambiguous prefixes of long names); ValueError names what pip would refuse."""
    parsed: list[tuple[str, str]] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token.startswith("--"):
            written, has_value, value = token.partition("=")
            matches = [name for name in _ALL_OPTIONS if name.startswith(written)]
            name = written if written in _ALL_OPTIONS else (matches[0] if len(matches) == 1 else "")
            if not name:
                raise ValueError(f"{written} is {'ambiguous' if matches else 'not an option pip accepts in a requirements file'}")
        elif token.startswith("-") and token[:2] in _SHORT_OPTIONS:
            name = _SHORT_OPTIONS[token[:2]]
            has_value, value = ("=", token[2:]) if len(token) > 2 else ("", "")
        elif token.startswith("-"):
            raise ValueError(f"{token} is not an option pip accepts in a requirements file")
        else:
            continue  # pip's option parser ignores words that are not options or their values

        if _ALL_OPTIONS[name] and not has_value:
            if position >= len(tokens):
                raise ValueError(f"{name} needs a value")
            value = tokens[position]
            position += 1
        elif not _ALL_OPTIONS[name] and has_value:
            raise ValueError(f"{name} takes no value")
        parsed.append((name, value))
    return parsed


def _include(result: RequirementsFile, path: Path, number: int, target: str, *, constraint: bool,
             including: list[tuple[Path, int]]) -> None:
    if urllib.parse.urlsplit(target).scheme in _URL_SCHEMES:
        result.problems.append(RequirementsProblem(
            path, number, f"{target} is a URL: the workbench reads only local requirements files",
            "copy the file into the plugin folder and include it by a relative path",
        ))
        return
    included = (path.parent / target).resolve()
    chain = [path.resolve(), *(file.resolve() for file, _ in including)]
    if included in chain:
        result.problems.append(RequirementsProblem(
            path, number, f"{target} includes itself again ({' -> '.join(str(p) for p in reversed([included, *chain]))})",
            "remove the -r/-c line that closes the loop",
        ))
        return
    _read_into(result, included, constraint=constraint, including=[*including, (path, number)])


def _parse_requirement(text: str, path: Path, number: int, *, editable: bool) -> DeclaredRequirement | RequirementsProblem:
    """One requirement as pip's ``install_req_from_line``/``_editable`` understand it."""
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    is_url = scheme in _URL_SCHEMES or scheme.split("+")[0] in _VCS
    before_at = text.split("@", 1)[0]
    # pip takes a path for a location (name unknown until built) unless it reads as "name @ url".
    is_location = _looks_like_path(before_at) or (
        "@" not in text and re.sub(r"\[[^\]]*\]$", "", text.split(";")[0].strip()).lower().endswith(_ARCHIVE_SUFFIXES))
    # An editable is a location, unless written "name @ url" (which pip accepts for editables too).
    if (editable and " @ " not in text) or is_url or is_location:
        return _parse_location(text, path, number, editable=editable, is_url=is_url)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        return RequirementsProblem(path, number, f"{text!r} is not a requirement pip can read ({error})",
                                   "write one distribution per line, e.g. numpy>=1.24 or onnxruntime==1.22.0")
    return DeclaredRequirement(text, path, number, normalise_name(requirement.name), requirement, requirement.marker,
                               editable)


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.strip().startswith(".")


def _parse_location(text: str, path: Path, number: int, *, editable: bool, is_url: bool) -> DeclaredRequirement | RequirementsProblem:
    """A URL or path (plain or editable): its name comes from ``#egg=`` or a wheel's file name, if at all."""
    location, marker = text, None
    separator = "; " if is_url else ";"  # URLs may hold ';', so pip wants a space before a URL's marker
    if separator in text and not editable:
        location, _, marker_text = text.partition(separator)
        try:
            marker = Marker(marker_text.strip())
        except InvalidMarker as error:
            return RequirementsProblem(path, number, f"{marker_text.strip()!r} is not an environment marker ({error})",
                                       "write a marker as in PEP 508, e.g. ; python_version < \"3.12\"")
    location = location.strip()
    fragment = urllib.parse.parse_qs(urllib.parse.urlsplit(location).fragment)
    egg = fragment.get("egg", [""])[0]
    file_name = urllib.parse.unquote(urllib.parse.urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1])
    name = None
    if egg:
        if not _PROJECT_NAME.fullmatch(egg):
            return RequirementsProblem(path, number, f"#egg={egg} is not a project name",
                                       "write #egg=<distribution name>, e.g. #egg=mylib")
        name = normalise_name(egg)
    elif file_name.endswith(".whl"):
        name = normalise_name(file_name.split("-")[0])
    return DeclaredRequirement(text, path, number, name, None, marker, editable)
