"""Who sees what (docs/security.md §6): the viewer's scope per visibility mode and role, its rules, and the settings."""

import pytest

from abacus.domain.visibility import EVERYONE, Viewer, others_label, viewer_scope
from abacus.settings import SettingsError, load_settings

BASE = {"OIDC_CLIENT_ID": "abacus", "OIDC_CLIENT_SECRET": "dev", "ABACUS_ENV": "dev"}

# web: Lea (lead) and Mo; api: Mo and Ivy; Zed in no team
MEMBERSHIPS = [
    ("web", "lea@acme.io"),
    ("web", "mo@acme.io"),
    ("api", "mo@acme.io"),
    ("api", "ivy@acme.io"),
]


@pytest.mark.parametrize(
    ("mode", "email", "admin", "people", "teams"),
    [
        # everyone: nothing hidden, for anybody
        ("everyone", "lea@acme.io", False, None, ("web",)),
        ("everyone", "zed@acme.io", False, None, ()),
        # admins see everything whatever the mode
        ("team", "zed@acme.io", True, None, ()),
        ("self", "lea@acme.io", True, None, ("web",)),
        # team: the people of every team one is in, and oneself
        ("team", "lea@acme.io", False, ("lea@acme.io", "mo@acme.io"), ("web",)),
        ("team", "mo@acme.io", False, ("ivy@acme.io", "lea@acme.io", "mo@acme.io"), ("api", "web")),
        ("team", "ivy@acme.io", False, ("ivy@acme.io", "mo@acme.io"), ("api",)),
        ("team", "zed@acme.io", False, ("zed@acme.io",), ()),
        # self: oneself only, lead or not
        ("self", "lea@acme.io", False, ("lea@acme.io",), ("web",)),
        ("self", "mo@acme.io", False, ("mo@acme.io",), ("api", "web")),
        # emails compare without case
        ("team", "Lea@Acme.io", False, ("lea@acme.io", "mo@acme.io"), ("web",)),
    ],
)
def test_scope_per_mode_and_role(mode, email, admin, people, teams):
    viewer = viewer_scope(mode, email, is_admin=admin, memberships=MEMBERSHIPS, min_group=5)
    assert viewer.people == people
    assert viewer.teams == teams
    assert viewer.email == email.lower()


@pytest.mark.parametrize(
    ("viewer", "email", "seen"),
    [
        (EVERYONE, "anyone@acme.io", True),
        (EVERYONE, None, True),
        (Viewer("lea@acme.io", ("lea@acme.io", "mo@acme.io")), "mo@acme.io", True),
        (Viewer("lea@acme.io", ("lea@acme.io", "mo@acme.io")), "MO@acme.io", True),
        (Viewer("lea@acme.io", ("lea@acme.io", "mo@acme.io")), "ivy@acme.io", False),
        (Viewer("lea@acme.io", ("lea@acme.io",)), "unmapped:claude_code:key-1", False),
        (Viewer("lea@acme.io", ("lea@acme.io",)), None, False),
    ],
)
def test_who_is_seen(viewer, email, seen):
    assert viewer.sees(email) is seen


@pytest.mark.parametrize(
    ("viewer", "slug", "size", "seen"),
    [
        (EVERYONE, "tiny", 1, True),  # admins and `everyone` see every team's figures
        (Viewer("lea@acme.io", ("lea@acme.io",), ("web",), 5), "web", 2, True),  # one's own team, however small
        (Viewer("lea@acme.io", ("lea@acme.io",), ("web",), 5), "api", 4, False),  # someone else's, under the minimum
        (Viewer("lea@acme.io", ("lea@acme.io",), ("web",), 5), "api", 5, True),  # at the minimum
        (Viewer("lea@acme.io", ("lea@acme.io",), (), 1), "api", 1, True),  # ABACUS_MIN_GROUP=1: nothing hidden
    ],
)
def test_team_aggregates_follow_the_minimum_group(viewer, slug, size, seen):
    assert viewer.sees_team(slug, size) is seen


def test_a_scope_repr_is_stable_whatever_the_order_of_memberships():
    # the scope is part of cache keys (by repr): the same people in any order give the same key
    a = viewer_scope("team", "mo@acme.io", is_admin=False, memberships=MEMBERSHIPS, min_group=5)
    b = viewer_scope("team", "mo@acme.io", is_admin=False, memberships=MEMBERSHIPS[::-1], min_group=5)
    assert repr(a) == repr(b)


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="'teams' is not one of everyone, team, self"):
        viewer_scope("teams", "lea@acme.io", is_admin=False, memberships=[], min_group=5)


@pytest.mark.parametrize(("count", "label"), [(1, "Others (1 person)"), (3, "Others (3 people)")])
def test_others_label(count, label):
    assert others_label(count) == label


def test_settings_default_to_everyone_and_five():
    sign_in = load_settings(BASE).sign_in
    assert (sign_in.visibility, sign_in.min_group) == ("everyone", 5)


@pytest.mark.parametrize("mode", ["everyone", "team", "self", " Team "])
def test_settings_accept_each_mode(mode):
    assert load_settings({**BASE, "ABACUS_VISIBILITY": mode}).sign_in.visibility == mode.strip().lower()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ABACUS_VISIBILITY": "teams"}, "ABACUS_VISIBILITY: 'teams' is not one of everyone, team, self"),
        ({"ABACUS_MIN_GROUP": "0"}, "ABACUS_MIN_GROUP: 0 is outside 1–10000"),
        ({"ABACUS_MIN_GROUP": "five"}, "ABACUS_MIN_GROUP: 'five' is not an integer"),
    ],
)
def test_bad_settings_are_named_precisely(env, message):
    with pytest.raises(SettingsError) as excinfo:
        load_settings({**BASE, **env})
    assert message in str(excinfo.value)


def _team(name, members, leads):
    from abacus.emulators.dataset import GitHubTeam

    return GitHubTeam(id=1, slug=name.lower(), name=name, members=tuple((m, 0) for m in members), maintainers=leads)


@pytest.mark.parametrize(
    ("teams", "expected"),
    [
        # the first team whose lead is no admin and that has a member with an email
        (
            [
                _team("Platform", ["ada", "bob"], frozenset({"ada"})),
                _team("Data", ["lynn", "ivy"], frozenset({"lynn"})),
            ],
            ("lynn@acme.io (lead of Data)", "ivy@acme.io (a member)"),
        ),
        ([_team("Data", ["lynn", "ghost"], frozenset({"lynn"}))], None),  # a member without an email
        ([], None),
    ],
)
def test_the_demo_names_a_lead_and_a_member_to_try_team_visibility(teams, expected):
    from abacus.cli.demo import visibility_hint

    emails = {"ada": "ada@acme.io", "bob": "bob@acme.io", "lynn": "lynn@acme.io", "ivy": "ivy@acme.io"}
    hint = visibility_hint(teams, emails, ["ada@acme.io"])
    if expected is None:
        assert hint == ""
    else:
        assert "ABACUS_VISIBILITY=team" in hint and all(part in hint for part in expected)
