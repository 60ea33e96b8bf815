"""schemathesis against the app's own OpenAPI document (/api/openapi.json), signed in, over HTTP on the real app and
the seed data: every operation the document lists gets generated requests (positive and negative) and none may
answer with a server error. Examples per operation: attack_support.fuzz_examples."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.integration.attack_support import fuzz_examples
from tests.support import sign_in

EXAMPLES = fuzz_examples(10)


@pytest.fixture(scope="module")
def session(live_app, seeded_module) -> Any:
    client = sign_in(live_app.url, "ada@example.com")
    assert client.last_response.status_code == 303  # type: ignore[attr-defined]
    yield live_app.url, dict(client.cookies)
    client.close()


@pytest.fixture(scope="module")
def schema(session) -> Any:
    import httpx

    url, cookies = session
    document = httpx.get(f"{url}/api/openapi.json", cookies=cookies).json()
    config = schemathesis.Config()
    config.projects.default.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], allow_x00=True)
    return schemathesis.openapi.from_dict(document, config=config)


def test_no_operation_answers_a_server_error(schema, session):
    url, cookies = session
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    tried = 0
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal tried
            response = case.call(base_url=url, cookies=cookies, timeout=30)
            tried += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query!r} → {response.status_code}")
            elif response.status_code == 401:
                failures.append(f"{case.method} {case.formatted_path}: the session was not used")

        run()
    assert not failures, "\n".join(failures[:20])
    print(f"schemathesis: {tried} requests over {len(operations)} operations")
