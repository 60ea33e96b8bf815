"""ABACUS_VISIBILITY=team: no page, fragment, export or JSON answer shows a person hidden from the viewer (the check
and its data live in test_visibility_routes.py; a module of its own so another test worker can run it)."""

from tests.integration.test_visibility_routes import (  # noqa: F401 (fixtures)
    no_route_shows_a_hidden_person,
    oidc_issuer,
    visibility_data,
)


def test_no_route_shows_a_hidden_person_in_team_mode(services, oidc_issuer, visibility_data):  # noqa: F811
    no_route_shows_a_hidden_person("team", services, oidc_issuer)
