"""GitHub parse step (providers.md §4): API items and push payloads → CommitRecords, App JWTs, backfill windows."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from abacus.providers.github import (
    Window,
    app_jwt,
    is_api_merge,
    next_backfill_window,
    parse_api_commit,
    parse_push,
    pushed_to_default_branch,
    repo_state_id,
    with_commit_detail,
)
from abacus.records import CommitAttributionRecord, ProviderError
from abacus.web.api.webhooks import signature_matches

CLAUDE = "Add x\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>"


def api_item(
    *,
    sha: str = "9f2c" * 10,
    message: str = "Fix bug",
    name: str = "Ana",
    email: str = "ana@example.com",
    date_: str = "2025-01-15T10:00:00Z",
    author: dict | None = None,
    parents: int = 1,
    stats: dict | None = None,
) -> dict:
    item = {
        "sha": sha,
        "commit": {
            "message": message,
            "author": {"name": name, "email": email, "date": date_},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": "2025-01-16T00:00:00Z"},
        },
        "author": author,
        "parents": [{"sha": f"{i:040x}"} for i in range(parents)],
    }
    if stats is not None:
        item["stats"] = stats
    return item


ANA = {"id": 1234, "login": "ana", "type": "User"}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(
            api_item(author=ANA),
            {
                "author_id": "1234",
                "author_login": "ana",
                "author_raw_email": "ana@example.com",
                "is_bot": False,
                "ai_tool": None,
                "additions": None,
                "committed_at": datetime(2025, 1, 15, 10, tzinfo=UTC),
            },
            id="linked human, no stats",
        ),
        pytest.param(
            api_item(author=None, email="ana@ana-mbp.local"),
            {"author_id": None, "author_login": None, "author_raw_email": "ana@ana-mbp.local"},
            id="GitHub could not link the email",
        ),
        pytest.param(
            api_item(author=ANA, date_="2025-01-15T10:00:00-08:00"),
            {"committed_at": datetime(2025, 1, 15, 18, tzinfo=UTC)},
            id="author date with offset → UTC",
        ),
        pytest.param(
            api_item(author=ANA, message=CLAUDE),
            {
                "ai_tool": "claude_code",
                "ai_model": "opus-4.5",
                "attributions": (CommitAttributionRecord("claude_code", "opus-4.5", "co_author"),),
            },
            id="Claude co-author with model",
        ),
        pytest.param(
            api_item(
                author={"id": 49699333, "login": "dependabot[bot]", "type": "Bot"},
                name="dependabot[bot]",
                message="Bump httpx from 0.27 to 0.28",
            ),
            {"is_bot": True, "ai_tool": None, "author_id": "49699333"},
            id="bot stays a human commit",
        ),
        pytest.param(
            api_item(
                author={"id": 198982749, "login": "Copilot", "type": "Bot"},
                name="copilot-swe-agent[bot]",
                email="198982749+Copilot@users.noreply.github.com",
                message="Initial plan",
            ),
            {
                "is_bot": True,
                "ai_tool": "github_copilot",
                "attributions": (CommitAttributionRecord("github_copilot", None, "author_field"),),
            },
            id="Copilot agent via the author field",
        ),
        pytest.param(
            api_item(author=ANA, stats={"additions": 12, "deletions": 3, "total": 15}),
            {"additions": 12, "deletions": 3},
            id="G4 detail carries stats",
        ),
    ],
)
def test_api_commit_to_record(item: dict, expected: dict) -> None:
    record = parse_api_commit("acme/web", item)
    assert record.repo_full_name == "acme/web"
    assert record.sha == item["sha"]
    for field, value in expected.items():
        assert getattr(record, field) == value, field


@pytest.mark.parametrize(("parents", "merge"), [(0, False), (1, False), (2, True), (3, True)])
def test_merge_commits_have_two_or_more_parents(parents: int, merge: bool) -> None:
    assert is_api_merge(api_item(parents=parents)) is merge


def test_api_commit_missing_author_date_is_a_precise_error() -> None:
    item = api_item()
    del item["commit"]["author"]["date"]
    with pytest.raises(ProviderError, match="missing field 'date'"):
        parse_api_commit("acme/web", item)


def push(
    *commits: dict, ref: str = "refs/heads/main", default_branch: str = "main", sender: dict | None = None
) -> dict:
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": "9" * 40,
        "repository": {"full_name": "acme/web", "default_branch": default_branch},
        "commits": list(commits),
        "pusher": {"name": "ana", "email": "ana@example.com"},
        "sender": sender if sender is not None else {"id": 1234, "login": "ana"},
    }


def push_commit(
    *,
    sha: str = "a" * 40,
    message: str = "Fix",
    timestamp: str = "2025-01-15T10:00:00-08:00",
    name: str = "Ana",
    email: str = "ana@example.com",
    username: str | None = "ana",
) -> dict:
    author = {"name": name, "email": email}
    if username is not None:
        author["username"] = username
    return {
        "id": sha,
        "message": message,
        "timestamp": timestamp,
        "author": author,
        "added": [],
        "removed": [],
        "modified": ["a.py"],
        "distinct": True,
    }


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            push(push_commit(email="1234+ana@users.noreply.github.com", username="someone-else")),
            [{"author_id": "1234", "author_login": "someone-else"}],
            id="noreply address gives the id",
        ),
        pytest.param(
            push(push_commit(email="5678+Bob@USERS.NOREPLY.GITHUB.COM", username=None)),
            [{"author_id": "5678"}],
            id="noreply match is case-insensitive",
        ),
        pytest.param(
            push(push_commit(username="ana")),
            [{"author_id": "1234"}],
            id="sender id when sender.login == author.username",
        ),
        pytest.param(push(push_commit(username="bob")), [{"author_id": None}], id="other pusher → no id"),
        pytest.param(push(push_commit(username=None)), [{"author_id": None}], id="no username → no id"),
        pytest.param(
            push(push_commit(timestamp="2025-01-15T10:00:00-08:00")),
            [{"committed_at": datetime(2025, 1, 15, 18, tzinfo=UTC)}],
            id="negative offset → UTC",
        ),
        pytest.param(
            push(push_commit(timestamp="2025-01-15T01:30:00+05:30")),
            [{"committed_at": datetime(2025, 1, 14, 20, tzinfo=UTC)}],
            id="positive offset → UTC",
        ),
        pytest.param(
            push(push_commit(timestamp="2025-01-15T10:00:00Z")),
            [{"committed_at": datetime(2025, 1, 15, 10, tzinfo=UTC)}],
            id="Z suffix",
        ),
        pytest.param(
            push(push_commit(message=CLAUDE)),
            [{"ai_tool": "claude_code", "ai_model": "opus-4.5", "additions": None}],
            id="attribution",
        ),
        pytest.param(
            push(push_commit(name="dependabot[bot]", username="dependabot[bot]")), [{"is_bot": True}], id="bot username"
        ),
        pytest.param(
            push(push_commit(sha="a" * 40), push_commit(sha="b" * 40)),
            [{"sha": "a" * 40}, {"sha": "b" * 40}],
            id="every commit, in payload order",
        ),
        pytest.param(push(push_commit(), ref="refs/heads/feature"), [], id="other branch ignored"),
        pytest.param(push(push_commit(), ref="refs/tags/v1.0"), [], id="tag ignored"),
        pytest.param(
            push(push_commit(), ref="refs/heads/main", default_branch="trunk"), [], id="main is not the default branch"
        ),
        pytest.param(push(ref="refs/heads/main"), [], id="no commits"),
    ],
)
def test_push_payload_to_records(payload: dict, expected: list[dict]) -> None:
    records = parse_push(payload)
    assert len(records) == len(expected)
    for record, fields in zip(records, expected, strict=True):
        assert record.repo_full_name == "acme/web"
        for field, value in fields.items():
            assert getattr(record, field) == value, field


def test_pushed_to_default_branch() -> None:
    assert pushed_to_default_branch(push())
    assert not pushed_to_default_branch(push(ref="refs/heads/dev"))
    assert not pushed_to_default_branch({"ref": "refs/heads/main"})


def test_push_record_completed_with_commit_detail() -> None:
    (record,) = parse_push(push(push_commit(username="bob")))
    assert record.author_id is None
    detailed = with_commit_detail(record, api_item(author=ANA, stats={"additions": 5, "deletions": 1}))
    assert (detailed.additions, detailed.deletions, detailed.author_id, detailed.author_login) == (5, 1, "1234", "ana")
    unlinked = with_commit_detail(
        parse_push(push(push_commit(username="ana")))[0], api_item(author=None, stats={"additions": 2, "deletions": 0})
    )
    assert (unlinked.author_id, unlinked.additions) == ("1234", 2)


# ---- backfill windows -----------------------------------------------------------------------------------------

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("oldest", "target", "expected"),
    [
        pytest.param(
            None,
            date(2025, 12, 10),
            Window(datetime(2026, 2, 6, tzinfo=UTC), datetime(2026, 3, 8, 14, 30, tzinfo=UTC)),
            id="first window ends where the incremental 48 h start, starts at a midnight",
        ),
        pytest.param(
            date(2026, 2, 6),
            date(2025, 12, 10),
            Window(datetime(2026, 1, 7, tzinfo=UTC), datetime(2026, 2, 6, tzinfo=UTC)),
            id="30 days below",
        ),
        pytest.param(
            date(2026, 1, 7),
            date(2025, 12, 10),
            Window(datetime(2025, 12, 10, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC)),
            id="last window stops at the target",
        ),
        pytest.param(date(2025, 12, 10), date(2025, 12, 10), None, id="target reached"),
        pytest.param(date(2025, 11, 1), date(2025, 12, 10), None, id="older than a later-moved target"),
        pytest.param(None, date(2026, 3, 9), None, id="backfill shorter than the incremental window"),
    ],
)
def test_next_backfill_window(oldest: date | None, target: date, expected: Window | None) -> None:
    assert next_backfill_window(oldest, NOW, target) == expected


def test_repo_state_ids_fit_the_column() -> None:
    assert repo_state_id("acme/web") == "github:acme/web"
    long_name = "acme/" + "x" * 100
    state_id = repo_state_id(long_name)
    assert len(state_id) == 64
    assert state_id != repo_state_id("acme/" + "x" * 99 + "y")


# ---- App JWT ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.mark.parametrize(
    "form",
    ["pkcs1", "pkcs8", "pkcs1-escaped", "pkcs8-escaped"],
)
def test_app_jwt_from_every_key_form(rsa_key: rsa.RSAPrivateKey, form: str) -> None:
    pem = _pem(
        rsa_key,
        serialization.PrivateFormat.TraditionalOpenSSL
        if form.startswith("pkcs1")
        else serialization.PrivateFormat.PKCS8,
    )
    assert ("BEGIN RSA PRIVATE KEY" in pem) == form.startswith("pkcs1")
    if form.endswith("escaped"):
        pem = pem.strip().replace("\n", "\\n")
    token = app_jwt("424242", pem, now=1_700_000_000)
    public = RSAKey.import_key(
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    decoded = jwt.decode(token, public, algorithms=["RS256"])
    assert decoded.header == {"alg": "RS256", "typ": "JWT"}
    assert decoded.claims == {"iat": 1_700_000_000 - 60, "exp": 1_700_000_000 + 600, "iss": 424242}


def test_app_jwt_refuses_garbage() -> None:
    with pytest.raises(ProviderError, match="not a PEM RSA private key"):
        app_jwt("1", "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----")


# ---- webhook signature ---------------------------------------------------------------------------------------------

BODY = b'{"zen":"Keep it logically awesome."}'
GOOD = "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (GOOD, True),
        (GOOD.upper().replace("SHA256=", "sha256="), True),
        (None, False),
        ("", False),
        ("sha1=" + GOOD[7:], False),
        (GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1"), False),
        ("sha256=" + hmac.new(b"other", BODY, hashlib.sha256).hexdigest(), False),
    ],
)
def test_webhook_signature(header: str | None, ok: bool) -> None:
    assert signature_matches("s3cret", BODY, header) is ok
