"""The signed-in person's scope (docs/security.md §6), read from the live team memberships once per request."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.visibility import Viewer, viewer_scope
from abacus.settings import SignInSettings

TEAMMATES_SQL = text("""
SELECT m.team_slug, m.email
FROM team_members m JOIN teams t ON t.slug = m.team_slug AND t.removed_at IS NULL
WHERE m.removed_at IS NULL AND m.team_slug IN (
  SELECT mine.team_slug FROM team_members mine WHERE mine.email = :email AND mine.removed_at IS NULL)
""")
"""Every live member of every live team `:email` is a live member of (including `:email`)."""


async def resolve_viewer(db: AsyncSession, email: str, sign_in: SignInSettings) -> Viewer:
    """What `email` may see under the configured visibility: everybody (admins, `everyone`), their teams' people and
    themselves (`team`), or themselves (`self`). Reads nothing when the answer does not depend on teams."""
    is_admin = sign_in.is_admin(email)
    memberships: list[tuple[str, str]] = []
    if not is_admin and sign_in.visibility != "everyone":
        rows = await db.execute(TEAMMATES_SQL, {"email": email.lower()})
        memberships = [(r.team_slug, r.email) for r in rows]
    return viewer_scope(
        sign_in.visibility, email, is_admin=is_admin, memberships=memberships, min_group=sign_in.min_group
    )
