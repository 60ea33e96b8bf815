"""Who sees what (docs/security.md §6), pure: the viewer's scope and the rules every per-person query applies.

A `Viewer` is computed once per request from the signed-in person, `ABACUS_VISIBILITY`, `ABACUS_ADMIN_EMAILS` and
the live team memberships. Queries take it as an argument, so it is part of every cache key of scoped results; its
fields are sorted tuples, whose repr is the same in every process (a frozenset's is not).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MODES = ("everyone", "team", "self")


@dataclass(frozen=True)
class Viewer:
    """`people` None: sees everybody (an admin, `everyone`, or the CLI and worker); else the emails this viewer may see
    one by one (always including their own). `teams`: the slugs of the teams the viewer belongs to. `min_group`:
    a team aggregate of fewer people is hidden unless the viewer sees everybody or is in that team."""

    email: str | None = None
    people: tuple[str, ...] | None = None
    teams: tuple[str, ...] = ()
    min_group: int = 1

    @property
    def sees_everyone(self) -> bool:
        return self.people is None

    def sees(self, email: str | None) -> bool:
        """Whether this person's own figures, name and pages may be shown."""
        if self.people is None:
            return True
        return email is not None and email.lower() in self.people

    def sees_team(self, slug: str, size: int) -> bool:
        """Whether one team's aggregate (a group=team row, a team filter) may be shown: always to those who see
        everybody and to the team's own members; to others only when it sums `min_group` people or more."""
        return self.people is None or slug in self.teams or size >= self.min_group


EVERYONE = Viewer()
"""The scope of the CLI, the worker and internal callers: nothing hidden."""


def viewer_scope(
    mode: str,
    email: str,
    *,
    is_admin: bool,
    memberships: Iterable[tuple[str, str]],
    min_group: int,
) -> Viewer:
    """The scope of `email` under visibility `mode`; `memberships` are the live (team slug, member email) pairs of
    at least the teams `email` belongs to (more are ignored)."""
    if mode not in MODES:
        raise ValueError(f"visibility {mode!r} is not one of {', '.join(MODES)}")
    me = email.lower()
    pairs = [(slug, member.lower()) for slug, member in memberships]
    teams = tuple(sorted({slug for slug, member in pairs if member == me}))
    if is_admin or mode == "everyone":
        return Viewer(me, None, teams, min_group)
    if mode == "self":
        return Viewer(me, (me,), teams, min_group)
    people = {me} | {member for slug, member in pairs if slug in teams}
    return Viewer(me, tuple(sorted(people)), teams, min_group)


def others_label(count: int) -> str:
    """The row that stands for the people a viewer may not see, e.g. "Others (3 people)"."""
    return f"Others ({count} {'person' if count == 1 else 'people'})"
