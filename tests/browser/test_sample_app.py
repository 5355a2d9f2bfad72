"""public/index.html in a real Chromium: sign in at the dev provider (code + PKCE), call the API, log out."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest


@pytest.fixture
def new_page(browser: Any, sample_app: tuple[Any, str]) -> Any:
    contexts = []

    def open_page(query: str = "") -> Any:
        context = browser.new_context()  # fresh storage per page: no tokens carried over
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{sample_app[1]}/{query}")
        page.wait_for_selector("body[data-ready=true]")
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    """The page as start-api serves it: no configuration, the API names its dev issuer (RFC 9728)."""
    return new_page()


def _text(page: Any, testid: str) -> str:
    return str(page.get_by_test_id(testid).inner_text())


def _call(page: Any, button: str) -> tuple[str, str]:
    page.get_by_test_id("status").evaluate("el => { el.textContent = 'pending'; }")
    page.get_by_role("button", name=button).click()
    page.wait_for_function("document.querySelector('[data-testid=status]').textContent !== 'pending'")
    return _text(page, "status"), _text(page, "body")


def _sign_in(page: Any, subject: str, *, read_shows: bool) -> None:
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Subject").fill(subject)
    box = page.get_by_label("read:shows")
    assert box.is_checked()  # prefilled: the app asked for read:shows
    box.set_checked(read_shows)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function(f"document.querySelector('[data-testid=subject]').textContent === {subject!r}")


@pytest.mark.parametrize(("read_shows", "shows_status"), [(True, "200"), (False, "403")])
def test_sign_in_call_both_routes_and_log_out(page: Any, read_shows: bool, shows_status: str) -> None:
    assert _call(page, "Call /me")[0] == "401"  # not signed in yet
    _sign_in(page, "alice", read_shows=read_shows)
    assert _text(page, "subject") == "alice"
    status, body = _call(page, "Call /me")
    assert status == "200"
    claims = json.loads(body)["claims"]
    assert claims["sub"] == "alice"
    assert claims["client_id"] == "serverless-jwt-dev"
    status, body = _call(page, "Call /shows")
    assert status == shows_status
    if read_shows:
        assert isinstance(json.loads(body), list)
    else:
        assert "insufficient_scope" in body
    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function(
        "document.querySelector('[data-testid=subject]').textContent === '(not signed in)'")
    assert _call(page, "Call /me")[0] == "401"
    assert _call(page, "Call /shows")[0] == "401"


def test_the_issuer_can_be_named_on_the_pages_url(new_page: Any, sample_app: tuple[Any, str]) -> None:
    page = new_page(f"?issuer={quote(sample_app[0].issuer, safe='')}&scope=openid")
    assert _text(page, "issuer") == sample_app[0].issuer
    page.get_by_role("button", name="Log in").click()
    assert not page.get_by_label("read:shows").is_checked()  # scope=openid from the URL
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("document.querySelector('[data-testid=subject]').textContent === 'dev-user'")
    assert page.url.endswith("?issuer=" + quote(sample_app[0].issuer, safe="") + "&scope=openid")
    assert _call(page, "Call /shows")[0] == "403"


def test_cancelled_sign_in_shows_the_providers_refusal(page: Any) -> None:
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_selector("body[data-ready=true]")
    assert _text(page, "status") == "login refused"
    assert "access_denied" in _text(page, "body")
    assert _text(page, "subject") == "(not signed in)"
