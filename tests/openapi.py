"""Checking API answers against the OpenAPI schema the API serves at /api/schema/, as the API
fuzzing (tests/test_api_fuzz.py) does: the status code is documented for the operation and
the body matches what is documented for it."""

from __future__ import annotations

import json

import requests
import schemathesis


def served_schema(api_client):
    """The schema as /api/schema/ serves it to ``api_client``'s user (signed in)."""
    served = api_client.get("/api/schema/", {"format": "json"})
    assert served.status_code == 200
    return schemathesis.openapi.from_dict(json.loads(served.content))


def assert_documented(schema, response, method: str, path: str) -> None:
    """``response`` (a test client's) is one of the answers ``schema`` documents for ``method path``."""
    operation = schema[path][method.upper()]
    assert operation.responses.find_by_status_code(response.status_code) is not None, (
        f"{response.status_code} is not documented for {method.upper()} {path}"
    )
    operation.validate_response(schemathesis.Response(
        status_code=response.status_code,
        headers={name.lower(): [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method.upper(), f"http://testserver{response.wsgi_request.get_full_path()}").prepare(),
        elapsed=0.0,
        verify=True,
    ))
