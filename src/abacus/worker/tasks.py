"""arq task functions and their cron schedule (spec/README.md "Jobs")."""

from __future__ import annotations

from arq import cron  # noqa: F401  (the cron table grows with the provider jobs)

FUNCTIONS: list = []
CRON_JOBS: list = []
INITIAL_JOBS: list[str] = []
