"""Property-based fuzzing of every route of the live hub from its OpenAPI document (schemathesis).

Each generated request is sent three ways (no token, a read token, a write token)
and aimed both at a real repository and at whatever names were generated:
no 5xx, no traceback in a body, and every response matches the document.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hub_server import HubServer, NewRepo

CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_target(hub_server: HubServer) -> tuple[HubServer, NewRepo]:
    return hub_server, hub_server.new_repo()


def _operations(server: HubServer) -> list[Any]:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_route_fails_on_any_input(fuzz_target: tuple[HubServer, NewRepo]) -> None:
    server, repo = fuzz_target
    operations = _operations(server)
    assert len(operations) == 7  # every route of the document is fuzzed

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            _check(case, repo)

        fuzz()


def _check(case: Any, repo: NewRepo) -> None:
    for token in (None, repo.read_token, repo.write_token):
        for aimed in (False, True):
            if aimed and case.path_parameters and "owner" in case.path_parameters:
                case.path_parameters.update(owner=repo.owner, name=repo.name)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.path, response.text[:300])
            assert "Traceback" not in response.text
            # Status, content type and body as documented (a stricter server than the
            # document, refusing a request the schema admits with a 400, is allowed).
            case.validate_response(response, checks=CONFORMANCE)
            if response.status_code >= 400:  # every refusal is the documented JSON error
                error = response.json().get("error")
                assert error and error.get("code") and error.get("message"), response.text
