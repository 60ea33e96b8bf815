"""Provider identities (`<source>:<external id>`) and the email a usage row gets when no mapping names one."""

from __future__ import annotations

UNMAPPED_PREFIX = "unmapped:"


def split_identity(identity: str) -> tuple[str, str]:
    source, _, external_id = identity.partition(":")
    return source, external_id


def own_email(identity: str) -> str | None:
    """The identity's own email when its external id is one (user_actor / Cursor rows), else None."""
    _, external_id = split_identity(identity)
    return external_id if external_id.count("@") == 1 and "." in external_id.split("@")[1] else None


def unmapped_email(identity: str) -> str:
    return f"{UNMAPPED_PREFIX}{identity}"


GITHUB_NOREPLY_BOT_SUFFIX = "[bot]@users.noreply.github.com"


def is_default_bot(source: str, login: str | None, email: str | None) -> bool:
    """A bot without anyone saying so: a GitHub `…[bot]` login or a `…[bot]@users.noreply.github.com` address
    (dependabot, renovate, github-actions); an admin's "not a bot" overrides it."""
    if source != "github":
        return False
    return bool(
        (login and login.strip().lower().endswith("[bot]"))
        or (email and email.strip().lower().endswith(GITHUB_NOREPLY_BOT_SUFFIX))
    )
