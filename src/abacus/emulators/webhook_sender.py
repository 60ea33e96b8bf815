"""Builds and sends signed GitHub `push`/`ping` deliveries made from the emulator's commits (docs/providers.md §4.4)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta, timezone
from typing import Any

import httpx

from abacus.emulators.dataset import Commit, EmulatorDataset

WEBHOOK_PATH = "/webhooks/github"
_ZEROS = "0" * 40


def signature_256(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256` value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _timestamp(commit: Commit) -> str:
    zone = timezone(timedelta(minutes=commit.utc_offset_minutes))
    return commit.author_date.astimezone(zone).isoformat()


def _user(login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_kgDO{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "html_url": f"https://github.com/{login}",
        "type": kind,
        "site_admin": False,
    }


def _push_commit(commit: Commit) -> dict[str, Any]:
    author: dict[str, Any] = {"name": commit.author_name, "email": commit.author_email}
    if commit.author_login:
        author["username"] = commit.author_login
    committer: dict[str, Any] = {"name": commit.committer_name, "email": commit.committer_email}
    if commit.committer_email == "noreply@github.com":
        committer["username"] = "web-flow"
    elif commit.author_login:
        committer["username"] = commit.author_login
    return {
        "id": commit.sha,
        "tree_id": hashlib.sha1(f"tree:{commit.sha}".encode()).hexdigest(),
        "distinct": True,
        "message": commit.message,
        "timestamp": _timestamp(commit),
        "url": f"https://github.com/{commit.repo}/commit/{commit.sha}",
        "author": author,
        "committer": committer,
        "added": [],
        "removed": [],
        "modified": ["src/app/module.py"],
    }


def _repository(dataset: EmulatorDataset, full_name: str) -> dict[str, Any]:
    repo = dataset.repo(full_name)
    if repo is None:
        raise ValueError(f"unknown repository {full_name!r}")
    wire = repo.wire(dataset.github_org_id)
    wire["owner"] = {**wire["owner"], "name": dataset.github_org}
    wire["master_branch"] = repo.default_branch
    wire["organization"] = dataset.github_org
    return wire


def push_payload(
    dataset: EmulatorDataset, repo: str = "acme/web", count: int = 3, *, ref: str | None = None
) -> dict[str, Any]:
    """A `push` payload carrying the latest `count` visible default-branch commits of `repo`, oldest first.

    `ref` overrides `refs/heads/<default branch>` (to exercise the "other branch / tag is ignored" rule).
    """
    repository = _repository(dataset, repo)
    commits = list(reversed(dataset.commits(repository["full_name"])[: max(count, 0)]))
    newest = commits[-1] if commits else None
    sender_commit = next((c for c in reversed(commits) if c.author_id and c.author_type == "User"), None)
    if sender_commit is not None and sender_commit.author_login and sender_commit.author_id:
        sender = _user(sender_commit.author_login, sender_commit.author_id)
    else:
        ada = dataset.people[0]
        sender = _user(ada.github_login or "ada", ada.github_id or 1)
    pusher_email = next((p.email for p in dataset.people if p.github_login == sender["login"]), None)
    before = commits[0].parents[0] if commits and commits[0].parents else _ZEROS
    after = newest.sha if newest else before
    return {
        "ref": ref or f"refs/heads/{repository['default_branch']}",
        "before": before,
        "after": after,
        "repository": repository,
        "pusher": {"name": sender["login"], "email": pusher_email},
        "organization": {"login": dataset.github_org, "id": dataset.github_org_id},
        "sender": sender,
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{repository['full_name']}/compare/{before[:12]}...{after[:12]}",
        "commits": [_push_commit(c) for c in commits],
        "head_commit": _push_commit(newest) if newest else None,
    }


def ping_payload(dataset: EmulatorDataset, hook_id: int = 12345678) -> dict[str, Any]:
    """An organization webhook `ping` payload."""
    ada = dataset.people[0]
    return {
        "zen": "Keep it logically awesome.",
        "hook_id": hook_id,
        "hook": {
            "type": "Organization",
            "id": hook_id,
            "name": "web",
            "active": True,
            "events": ["push"],
            "config": {"content_type": "json", "insecure_ssl": "0", "url": "https://abacus.example.com" + WEBHOOK_PATH},
        },
        "organization": {"login": dataset.github_org, "id": dataset.github_org_id},
        "sender": _user(ada.github_login or "ada", ada.github_id or 1),
    }


def webhook_request(
    secret: str, event: str, payload: dict[str, Any] | bytes, delivery_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The exact body and headers GitHub would send for this delivery."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/emulator",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "12345678",
        "X-GitHub-Hook-Installation-Target-Type": "organization",
        "X-Hub-Signature-256": signature_256(secret, body),
        "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
    }
    return body, headers


def _webhook_url(app_url: str) -> str:
    url = app_url.rstrip("/")
    return url if url.endswith(WEBHOOK_PATH) else url + WEBHOOK_PATH


def send_webhook(
    app_url: str,
    secret: str,
    event: str,
    payload: dict[str, Any] | bytes,
    delivery_id: str | None = None,
    *,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST a signed delivery to `<app_url>/webhooks/github` (or to `app_url` if it already ends with that path)."""
    body, headers = webhook_request(secret, event, payload, delivery_id)
    return httpx.post(_webhook_url(app_url), content=body, headers=headers, timeout=timeout)


async def send_webhook_async(
    app_url: str, secret: str, event: str, payload: dict[str, Any] | bytes, delivery_id: str | None = None
) -> httpx.Response:
    """Async variant of `send_webhook` (10 s timeout)."""
    body, headers = webhook_request(secret, event, payload, delivery_id)
    async with httpx.AsyncClient(timeout=10.0) as client:
        return await client.post(_webhook_url(app_url), content=body, headers=headers)
