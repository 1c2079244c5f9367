"""Security headers on every page: a strict script policy, no framing, no referrer leaks."""

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/accounts/login/", "/desk/", "/admin/", "/api/docs/", "/healthz"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_carries_a_content_security_policy_and_anti_framing_headers(client, manager, url):
    client.force_login(manager)

    response = client.get(url)

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_api_docs_and_the_desk_run_without_a_single_policy_violation(page, manager):
    from tests.conftest import sign_in

    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in(page, "manager")
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)  # Swagger UI drew itself
    page.goto("/desk/")
    page.goto("/admin/patients/patient/add/")

    assert violations == []
