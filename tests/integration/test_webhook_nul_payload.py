"""A validly signed push whose payload holds a NUL (PostgreSQL text cannot store it): the web answers as for any push,
and the follow-up marks the delivery failed with a precise error — nothing stored, no crashed job (issue 10 B2)."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.emulators.server import EmulatorServer
from abacus.emulators.webhook_sender import push_payload
from abacus.settings import Settings
from abacus.worker.webhook_jobs import followup_job_id, nul_location, payload_key
from tests.integration import test_webhook as webhook_tests
from tests.support import QUEUE, ThreadedServer

# the webhook tests' app, emulator and helpers (fixtures are found by name in this module)
emulator, webhook_settings = webhook_tests.emulator, webhook_tests.webhook_settings
webhook_app = webhook_tests.webhook_app
redis, sessionmaker = webhook_tests.redis, webhook_tests.sessionmaker
deliver, deliveries, run_followup = webhook_tests.deliver, webhook_tests.deliveries, webhook_tests.run_followup


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"ref": "refs/heads/main"}, None),
        ({"commits": [{"id": "a"}, {"id": "b", "message": "fix\x00"}]}, "commits[1].message"),
        ({"commits": [{"author": {"name": "A\x00"}}]}, "commits[0].author.name"),
        ({"sender": {"lo\x00gin": "x"}}, "sender key"),
        ({"nested": [[["\x00"]]]}, "nested[0][0][0]"),
    ],
)
def test_nul_location(payload: dict[str, Any], where: str | None) -> None:
    assert nul_location(payload) == where


@pytest.mark.parametrize("field", ["message", "author"])
async def test_a_push_holding_nul_fails_precisely_and_stores_nothing(
    webhook_app: ThreadedServer,
    webhook_settings: Settings,
    emulator: EmulatorServer,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
    field: str,
) -> None:
    payload = push_payload(emulator.state.dataset, "acme/api", count=2)
    if field == "message":
        payload["commits"][1]["message"] = "fix: bad\x00byte"
    else:
        payload["commits"][0]["author"]["name"] = "Ada\x00"
    delivery_id, response = deliver(webhook_app, "push", payload)
    assert response.status_code == 202
    outcome = await run_followup(webhook_settings, sessionmaker, delivery_id)
    expected = "commits[1].message" if field == "message" else "commits[0].author.name"
    assert outcome["errors"] == [f"push payload: {expected} contains a NUL character"]
    (row,) = await deliveries(sessionmaker)
    assert row[2] == "failed" and expected in row[3]
    async with sessionmaker() as db:
        assert (await db.execute(text("SELECT count(*) FROM commits"))).scalar_one() == 0
    redis.delete(payload_key(QUEUE, delivery_id), f"arq:job:{followup_job_id(QUEUE, delivery_id)}")
    redis.zrem(QUEUE, followup_job_id(QUEUE, delivery_id))
