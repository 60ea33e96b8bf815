"""The worker's cron table names every job for its queue: arq files a cron run under `<name>:<scheduled ms>`, global to
the Redis, so two installs sharing one Redis must not file their runs under one id."""

from __future__ import annotations

from abacus.worker.settings import cron_table
from abacus.worker.tasks import CRON_JOBS


def test_each_install_files_its_cron_runs_under_its_own_names():
    first, second = cron_table("abacus:queue:a"), cron_table("abacus:queue:b")
    assert len(first) == len(second) == len(CRON_JOBS) + 1  # the heartbeat too
    assert not {job.name for job in first} & {job.name for job in second}
    assert {job.name.split("@")[0] for job in first} == {"cron:heartbeat", *(job.name for job in CRON_JOBS)}
    assert all(job.name.endswith("@abacus:queue:a") for job in first)
    assert [job.coroutine for job in first] == [job.coroutine for job in second]


def test_each_worker_gets_its_own_copies():
    first, again = cron_table("q"), cron_table("q")
    assert all(a is not b for a, b in zip(first, again, strict=True))  # a cron job keeps its own next run time
    assert all(job.name == f"{original.name}@q" for job, original in zip(first[1:], CRON_JOBS, strict=True))
