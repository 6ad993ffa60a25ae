"""The README is where a new user starts (issue 32, finding 3): short, the two commands first, nothing that only
exists on the team's machines, and every link leading somewhere. Reference material lives in docs/."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_LINES = 150
#: The two commands a new user runs on a fresh clone, in this order: the main job, then the whole test suite.
FIRST_COMMANDS = ["make demo", "make test"]


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def without_code_blocks(text: str) -> str:
    """The prose: fenced blocks hold commands and code, whose brackets are not links."""
    return re.sub(r"```.*?```", "", text, flags=re.S)


def first_code_block_commands(text: str) -> list[str]:
    """The commands of the README's first fenced block, comments dropped."""
    match = re.search(r"```[a-z]*\n(.*?)```", text, re.S)
    assert match, "the README has no fenced code block"
    return [line.split("#", 1)[0].strip() for line in match.group(1).splitlines() if line.split("#", 1)[0].strip()]


def relative_links(text: str) -> list[str]:
    """Targets of Markdown links and images that point into the repository (no URL scheme, no bare anchor)."""
    targets = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", without_code_blocks(text))
    return [target for target in targets if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


def test_the_readme_is_at_most_150_lines():
    lines = readme_text().splitlines()
    assert len(lines) <= MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {MAX_LINES}): move reference material to docs/ "
        "(user-guide, http-api, plugin-authors, development, benchmarks) and link it from the README's map"
    )


def test_the_readme_starts_with_the_two_commands():
    text = readme_text()
    first_heading = text.find("\n## ")
    first_block = text.find("```")
    assert 0 <= first_block < first_heading, "the two commands must come before the README's first section"
    assert first_code_block_commands(text) == FIRST_COMMANDS, (
        f"the README's first code block must be exactly {FIRST_COMMANDS}, got {first_code_block_commands(text)}"
    )


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands[-1] == FIRST_COMMANDS[1], f".ci/run must end by running {FIRST_COMMANDS[1]!r}, as the README says"


def test_the_readme_sends_no_user_to_the_teams_shared_folder():
    assert "../shared" not in readme_text(), (
        "README.md mentions ../shared, which only the team's machines have: say what the sample data is instead"
    )


def test_every_relative_link_in_the_readme_leads_to_a_file():
    links = relative_links(readme_text())
    assert links, "the README links no docs"
    missing = [link for link in links if not (ROOT / link.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_the_link_finder_sees_links_and_skips_code_and_urls():
    sample = "[a](docs/a.md) ![b](docs/b.png#x) [c](https://example.org) [d](#anchor)\n```\n[e](nowhere.md)\n```\n"
    assert relative_links(sample) == ["docs/a.md", "docs/b.png#x"]
