"""How the usage store names each identity's person (`resolve_emails`, one statement over identity_mappings and
bot_identities): a mapping wins, an identity an admin marked as a bot is nobody's, else its own email, else
`unmapped:<identity>`."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from abacus.db import create_engine, session_factory
from abacus.sync.usage_store import resolve_emails
from tests.support import run_async

FACTS = (
    "INSERT INTO identity_mappings (source, external_id, email, updated_by) VALUES "
    "('cursor', 'laptop-7', 'grace@example.com', 'test'), ('cursor', 'ci@example.com', 'ops@example.com', 'test'), "
    "('claude_code', 'mapped-bot', 'ada@example.com', 'test') ON CONFLICT DO NOTHING",
    "INSERT INTO bot_identities (source, external_id, is_bot, updated_by) VALUES "
    "('cursor', 'build@example.com', true, 'test'), ('cursor', 'human@example.com', false, 'test'), "
    "('claude_code', 'mapped-bot', true, 'test') ON CONFLICT DO NOTHING",
)


@pytest.mark.parametrize(
    ("identity", "email"),
    [
        ("cursor:laptop-7", "grace@example.com"),  # a mapping
        ("cursor:ci@example.com", "ops@example.com"),  # a mapping beats the identity's own email
        ("claude_code:mapped-bot", "ada@example.com"),  # a mapping beats a bot mark
        ("cursor:build@example.com", "unmapped:cursor:build@example.com"),  # a bot is nobody's usage
        ("cursor:human@example.com", "human@example.com"),  # "not a bot": its own email
        ("cursor:lin@example.com", "lin@example.com"),  # its own email
        ("claude_code:key-name", "unmapped:claude_code:key-name"),  # nothing to go by
        ("cursor:laptop-8", "unmapped:cursor:laptop-8"),
    ],
)
def test_resolve_emails(database_url: str, identity: str, email: str) -> None:
    async def run() -> dict[str, str]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                await db.begin()  # rolled back: the facts stay inside this test
                for statement in FACTS:
                    await db.execute(text(statement))
                found = await resolve_emails(db, [identity, "cursor:other@example.com"])
                await db.rollback()
                return found
        finally:
            await engine.dispose()

    assert run_async(run()) == {identity: email, "cursor:other@example.com": "other@example.com"}
