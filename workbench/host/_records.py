"""What the host knows of each plugin, and the table ``wb.plugins`` shows."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..plugins._errors import missing_module_of

ACTIVE = "active"
FAILED = "failed"
CLOSED = "closed"


@dataclass
class PluginRecord:
    """One plugin class activated from a module, or one module that failed before any class was found."""

    name: str
    module: str
    kind: str
    status: str = ACTIVE
    error: str | None = None
    instance: Any = field(default=None, repr=False)
    # Who provided the plugin's base class: the service's luna_plugins (with its version) or the stand-in.
    provider: str = ""
    # For a plugin that failed because a module it imports is absent: that module's name.
    missing_module: str | None = field(default=None, repr=False)

    def fail(self, reason: str, error: BaseException) -> None:
        """Mark the plugin failed with ``reason``, noting the missing module where ``error`` was one."""
        self.status, self.error, self.missing_module = FAILED, reason, missing_module_of(error)

    def as_row(self) -> dict[str, str]:
        return {
            "name": self.name, "module": self.module, "kind": self.kind, "status": self.status,
            "error": self.error or "", "provider": self.provider,
        }


class PluginTable:
    """The host's plugins: iterable, indexable by name, and a table in Jupyter."""

    _COLUMNS = ("name", "module", "kind", "status", "error", "provider")

    def __init__(self, records: list[PluginRecord]) -> None:
        self._records = list(records)

    def __iter__(self) -> Iterator[PluginRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, key: int | str) -> PluginRecord:
        if isinstance(key, int):
            return self._records[key]
        for record in self._records:
            if record.name == key:
                return record
        names = ", ".join(repr(r.name) for r in self._records) or "none"
        raise KeyError(f"no plugin named {key!r}; loaded: {names}")

    def __contains__(self, name: object) -> bool:
        return any(record.name == name for record in self._records)

    @property
    def failed(self) -> list[PluginRecord]:
        return [r for r in self._records if r.status == FAILED]

    def to_rows(self) -> list[dict[str, str]]:
        return [r.as_row() for r in self._records]

    def __repr__(self) -> str:
        rows = [dict(zip(self._COLUMNS, self._COLUMNS))] + self.to_rows()
        widths = {c: min(60, max(len(row[c]) for row in rows)) for c in self._COLUMNS}
        lines = ["  ".join(row[c][: widths[c]].ljust(widths[c]) for c in self._COLUMNS).rstrip() for row in rows]
        return "\n".join(lines) if self._records else "no plugins loaded"

    def _repr_html_(self) -> str:
        colours = {ACTIVE: "#1a7f37", FAILED: "#cf222e", CLOSED: "#6e7781"}
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self._COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:left;color:{colours.get(row['status'], 'inherit') if c == 'status' else 'inherit'}'>"
                f"{html.escape(row[c])}</td>"
                for c in self._COLUMNS
            )
            + "</tr>"
            for row in self.to_rows()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
