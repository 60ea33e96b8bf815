"""When a rate-limited GitHub push follow-up is tried again: exponential backoff, never before GitHub's reset."""

from __future__ import annotations

import pytest

from abacus.worker.tasks import FUNCTIONS
from abacus.worker.webhook_jobs import FOLLOWUP_JOB, FOLLOWUP_TRIES, rate_limit_retry_delay


@pytest.mark.parametrize(
    ("retry_after", "job_try", "delay"),
    [
        (0, 1, 60),  # reset already passed: the first backoff step
        (10, 1, 60),
        (10, 2, 120),
        (10, 3, 240),
        (10, 7, 3600),  # capped at an hour
        (10, 12, 3600),
        (120, 1, 121),  # the reset is later than the backoff: wait for it (+1 s)
        (3599, 2, 3600),
        (5400, 8, 5401),  # even past the cap, never before the reset
    ],
)
def test_rate_limit_retry_delay(retry_after: float, job_try: int, delay: float) -> None:
    assert rate_limit_retry_delay(retry_after, job_try) == delay


def test_the_followup_is_registered_with_its_tries() -> None:
    (followup,) = [f for f in FUNCTIONS if f.name == FOLLOWUP_JOB]
    assert followup.max_tries == FOLLOWUP_TRIES > 1
