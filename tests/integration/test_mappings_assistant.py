"""The Mappings assistant over HTTP on the real app and database (issue 11 item 7, issue 10 B3/B2): one row per
unmapped identity with its unmapped dollars, most first; "ignore as bot" (and the GitHub defaults) takes an identity
out of people lists and AI-share denominators and can be undone; a mapping outside the allowed domains needs an
explicit "save anyway"; bulk and destructive actions ask once, without JavaScript; hostile form values are a 400."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from abacus.db import create_engine, session_factory
from abacus.domain.formatting import format_money
from abacus.records import CommitRecord, UsageRow
from abacus.rollups import rollup_mismatches
from abacus.sync.commit_store import get_or_create_repository, store_commits
from abacus.sync.usage_store import store_usage
from tests import dom
from tests.integration.pages_support import sql_value
from tests.support import run_async

DAY = date(2026, 3, 4)
RANGE = f"start={DAY - timedelta(days=3)}&end={DAY + timedelta(days=3)}"
HX = {"HX-Request": "true", "HX-Target": "mapping-tables"}


def usage(identity: str, cost: str, n: int = 1) -> list[UsageRow]:
    source = identity.split(":")[0]
    return [
        UsageRow(
            date=DAY,
            identity=identity,
            tool=source,
            model="sonnet-4",
            raw_model="claude-sonnet-4",
            input_tokens=100,
            output_tokens=10,
            cost=Decimal(cost) / n,
            tool_record_id=f"{identity}-{i}",
            organization_id=f"{source}:default",
        )
        for i in range(n)
    ]


def commit(sha: str, author_id: str, login: str, email: str, *, is_bot: bool, tool: str | None = None) -> CommitRecord:
    from abacus.records import CommitAttributionRecord

    return CommitRecord(
        repo_full_name="acme/web",
        sha=sha,
        message="Bump httpx" if is_bot else "Change",
        committed_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC),
        author_name=login,
        author_raw_email=email,
        author_id=author_id,
        author_login=login,
        is_bot=is_bot,
        additions=1,
        deletions=1,
        attributions=(CommitAttributionRecord(tool, None, "co_author"),) if tool else (),
    )


DEPENDABOT = ("49699333", "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
RENOVATE = ("2740337", "renovate-helper", "2740337+renovate[bot]@users.noreply.github.com")  # bot by its address
LIN = ("7", "lin", "lin@home.example")
COPILOT = ("198982749", "Copilot", "198982749+Copilot@users.noreply.github.com")  # type Bot, no [bot] in the login
COMMITS = [
    commit("c1", *COPILOT, is_bot=True, tool="github_copilot"),
    commit("d1", *DEPENDABOT, is_bot=True),
    commit("d2", *DEPENDABOT, is_bot=True),
    commit("r1", *RENOVATE, is_bot=False),
    commit("l1", *LIN, is_bot=False),
    commit("l2", *LIN, is_bot=False, tool="claude_code"),
]


def write(rows: list[UsageRow] = (), commits: list[CommitRecord] = ()) -> None:  # type: ignore[assignment]
    async def run(database_url: str) -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            if rows:
                await store_usage(db, rows)
            if commits:
                repo_id = await get_or_create_repository(db, "acme/web")
                await store_commits(db, repo_id, commits, work_domains=("example.com",))
        await engine.dispose()

    run_async(run(_db["url"]))


_db: dict[str, str] = {}


@pytest.fixture()
def db(clean_db: None, database_url: str) -> str:
    _db["url"] = database_url
    return database_url


@pytest.fixture()
def ada(signed_in, db):
    client = signed_in("ada@example.com")
    client.get("/mappings")
    return client


def post(client, url: str, **fields: str):
    return client.post(url, data={"_csrf_token": client.cookies.get("abacus_csrf") or "", **fields}, headers=HX)


def consistent(database_url: str) -> bool:
    async def run() -> int:
        engine = create_engine(database_url)
        async with session_factory(engine)() as session:
            value = await rollup_mismatches(session)
        await engine.dispose()
        return value

    return run_async(run()) == 0


def unmapped_rows(page_text: str) -> list[list[str]]:
    card = dom.one(dom.parse(page_text), "section.card", has_text="Unmapped identities")
    return [[dom.text(td) for td in tr.cssselect("td")] for tr in card.cssselect("tbody tr")]


def test_one_row_per_identity_with_its_unmapped_dollars_most_first(ada, db):
    write(
        usage("claude_code:small-key", "5.25", n=3)
        + usage("claude_code:big-key", "90", n=1)
        + usage("claude_code:ada-laptop", "12.5", n=2)  # suggested as ada@example.com: still one row
        + usage("cursor:ana@example.com", "7")
    )
    write(usage("claude_code:ada-desktop", "1"))
    rows = unmapped_rows(ada.get("/mappings").text)
    identities = [r[1] for r in rows]
    assert identities == ["big-key", "ada-laptop", "small-key", "ada-desktop"], "by dollars, highest first"
    assert len(set(identities)) == len(identities), "each identity once (suggestions are not listed twice)"
    assert [r[3] for r in rows] == [format_money(Decimal(v)) for v in ("90", "12.5", "5.25", "1")]
    page = dom.parse(ada.get("/mappings").text)
    assert not dom.select(page, "section.card", has_text="Auto-detected")
    head = dom.text(dom.one(page, "section.card", has_text="Unmapped identities"))
    assert f"{format_money(Decimal('108.75'))} of usage is not linked to a person" in head


def test_ignoring_a_usage_identity_as_a_bot_takes_it_off_the_team_page_until_undone(ada, db):
    write(usage("cursor:buildbot@example.com", "12") + usage("cursor:ana@example.com", "7"))
    team = dom.text(dom.parse(ada.get(f"/team?{RANGE}").text))
    assert "buildbot@example.com" in team and "ana@example.com" in team

    done = post(ada, "/mappings/bots", source="cursor", external_id="buildbot@example.com", bot="yes")
    assert done.status_code == 200
    assert "Ignored cursor buildbot@example.com as a bot: 1 usage row no longer counted for anyone." in done.text
    assert sql_value(db, "SELECT DISTINCT email FROM usage_records WHERE identity = 'cursor:buildbot@example.com'") == (
        "unmapped:cursor:buildbot@example.com"
    )
    team = dom.text(dom.parse(ada.get(f"/team?{RANGE}").text))
    assert "buildbot@example.com" not in team and "ana@example.com" in team
    page = dom.parse(done.text)
    bots = dom.text(dom.one(page, "section.card", has_text="Ignored as bots"))
    assert "buildbot@example.com" in bots and "marked by an admin" in bots
    assert "buildbot@example.com" not in " ".join(r[1] for r in unmapped_rows(done.text))
    assert consistent(db)

    write(usage("cursor:buildbot@example.com", "3", n=1)[:1])  # a later sync keeps it off the people lists
    assert sql_value(db, "SELECT COUNT(*) FROM usage_records WHERE email = 'buildbot@example.com'") == 0

    undone = post(ada, "/mappings/bots", source="cursor", external_id="buildbot@example.com", bot="no")
    assert "cursor buildbot@example.com is not a bot any more" in undone.text
    assert "buildbot@example.com" in dom.text(dom.parse(ada.get(f"/team?{RANGE}").text))
    assert sql_value(db, "SELECT action FROM audit_events ORDER BY id DESC LIMIT 1") == "identity.not_bot"
    assert consistent(db)


def test_github_bots_are_ignored_by_default_and_leave_the_ai_share(ada, db):
    write(commits=COMMITS)
    page = dom.parse(ada.get("/mappings").text)
    bots = dom.text(dom.one(page, "section.card", has_text="Ignored as bots"))
    assert "dependabot[bot]" in bots and "renovate-helper" in bots and "GitHub bot account (default)" in bots
    assert "@Copilot" in bots, "the Copilot coding agent is a bot too (account type Bot)"
    assert [r[1] for r in unmapped_rows(ada.get("/mappings").text)] == ["7 (@lin)"]
    # the day's commits: Lin's two (one AI) and the Copilot agent's (AI); dependabot's and renovate's count nowhere
    assert sql_value(db, "SELECT SUM(commits) FROM commit_daily") == 3
    assert sql_value(db, "SELECT SUM(commits) FROM commit_daily WHERE ai_tool = 'github_copilot'") == 1
    assert sql_value(db, "SELECT SUM(commits) FROM commit_daily WHERE ai_tool = ''") == 1
    assert sql_value(db, "SELECT COUNT(*) FROM commit_author_daily WHERE author LIKE '%[bot]%'") == 0
    assert consistent(db)
    status = ada.get("/api/v1/status").json()
    assert [a["author_id"] for a in status["unmapped_github"]] == [LIN[0]], "the status page lists people only"

    post(ada, "/mappings/bots", source="github", external_id=RENOVATE[0], bot="no")
    assert sql_value(db, "SELECT SUM(commits) FROM commit_daily WHERE ai_tool = ''") == 2
    assert "renovate-helper" in " ".join(r[1] for r in unmapped_rows(ada.get("/mappings").text))
    write(commits=COMMITS)  # the sync stores the same commits again: the admin's word wins over its rule
    assert sql_value(db, "SELECT bool_or(is_bot) FROM commits WHERE author_id = :id", id=RENOVATE[0]) is False
    assert sql_value(db, "SELECT SUM(commits) FROM commit_daily WHERE ai_tool = ''") == 2

    post(ada, "/mappings/bots", source="github", external_id=LIN[0], bot="yes")
    assert sql_value(db, "SELECT SUM(commits) FROM commit_daily") == 3, "Lin's AI commit still counts, as AI"
    assert sql_value(db, "SELECT SUM(commits) FROM commit_daily WHERE ai_tool = ''") == 1
    assert consistent(db)


def test_a_mapping_outside_the_allowed_domains_needs_save_anyway(ada, db):
    write(usage("claude_code:ci-key", "4"))
    fields = {"source": "claude_code", "external_id": "ci-key", "email": "Ken@Gmail.com"}
    asked = post(ada, "/mappings", **fields)
    assert asked.status_code == 200
    text = dom.text(dom.parse(asked.text))
    assert "ken@gmail.com is outside the allowed domains (example.com)." in text
    assert sql_value(db, "SELECT COUNT(*) FROM identity_mappings") == 0
    form = dom.one(dom.parse(asked.text), ".confirm-step form")
    confirm = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    assert confirm["confirm"] == "outside"
    saved = ada.post("/mappings", data=confirm)
    assert saved.status_code == 303
    assert sql_value(db, "SELECT email FROM identity_mappings WHERE external_id = 'ci-key'") == "ken@gmail.com"
    mapped = dom.text(dom.one(dom.parse(ada.get("/mappings?status=mapped").text), "section.card", has_text="Existing"))
    assert "outside example.com" in mapped
    inside = post(ada, "/mappings", source="claude_code", external_id="ci-key", email="ken@example.com")
    assert "Mapped claude_code ci-key → ken@example.com" in inside.text


def test_accept_all_confirmation_is_refused_when_the_suggestions_changed(ada, db):
    write(usage("claude_code:ada-laptop", "3") + usage("cursor:ada@example.com", "1"))
    asked = post(ada, "/mappings/accept-all")
    assert "Accept these 1 suggested mapping(s)?" in dom.text(dom.parse(asked.text))
    stale = post(ada, "/mappings/accept-all", confirm="yes", suggestions="0000000000000000")
    assert "The suggestions changed since they were shown; nothing was saved." in stale.text
    assert sql_value(db, "SELECT COUNT(*) FROM identity_mappings") == 0
    page = ada.get("/mappings").text
    assert "data-confirm" not in page, "no JavaScript confirm on top of the page's own step"


HOSTILE = ["\x00", "a\x00b@example.com", "x" * 10_000, "\x07\x1b[2J", "'; DROP TABLE identity_mappings; --", " "]


def expected_status(field: str, value: str) -> set[int]:
    """What each hostile value must get: a 400 naming the problem, or (for a value that is merely odd) the page."""
    if "\x00" in value or field in ("source", "email", "bot"):
        return {400}
    if field == "external_id" and (not value.strip() or len(value.strip()) > 300):
        return {400}
    return {200}  # an odd but valid id is saved / asked about; a bad confirm or fingerprint only asks again


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/mappings", "source"),
        ("/mappings", "external_id"),
        ("/mappings", "email"),
        ("/mappings", "confirm"),
        ("/mappings/delete", "source"),
        ("/mappings/delete", "external_id"),
        ("/mappings/bots", "external_id"),
        ("/mappings/bots", "bot"),
        ("/mappings/accept-all", "suggestions"),
    ],
)
def test_hostile_form_values_are_a_400_or_a_question_never_a_500(ada, db, url, field, value):
    base = {"source": "github", "external_id": "12345", "email": "ken@example.com", "bot": "yes"}
    if url == "/mappings/accept-all":
        base = {"confirm": "yes"}
    response = post(ada, url, **{**base, field: value})
    assert response.status_code in expected_status(field, value), response.text[:300]
    if response.status_code == 400 and "\x00" not in value:
        assert dom.select(dom.parse(response.text), ".inline-error, .alert-error"), "the reason is on the page"
    assert "\x00" not in response.text
