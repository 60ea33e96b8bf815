"""What a sync run needs (settings, database, clock, progress) and what it reports back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.settings import Settings


class Progress:
    """Progress sink: the CLI plugs a rich bar in, jobs use the silent default."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, steps: int = 1, *, note: str | None = None) -> None: ...


@dataclass
class SyncContext:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    progress: Progress = field(default_factory=Progress)
    backoff_base: float = 1.0

    def today(self) -> date:
        return self.now().date()


@dataclass
class SyncResult:
    """Outcome of one run for one provider key; `errors` hold one line per failed window."""

    provider: str
    label: str
    records: int = 0
    windows: int = 0
    errors: list[str] = field(default_factory=list)
    complete: bool | None = None  # backfill runs: True once the history is fully read
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_detail(self, note: str) -> None:
        """Append a note to `detail` ("; "-separated)."""
        self.detail = f"{self.detail}; {note}" if self.detail else note
