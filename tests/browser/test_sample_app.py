"""public/index.html in a real Chromium: sign in at the dev provider (code + PKCE), call the API, log out."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any
from urllib.parse import quote

import pytest

DEPLOYED_HOST = "app.example"  # conftest's browser resolves it to 127.0.0.1: a non-loopback origin


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
    page.wait_for_function(
        "(document.querySelector('[data-testid=status]')?.textContent ?? 'pending') !== 'pending'")
    return _text(page, "status"), _text(page, "body")


def _sign_in(page: Any, subject: str, *, read_shows: bool) -> None:
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Subject").fill(subject)
    box = page.get_by_label("read:shows")
    assert box.is_checked()  # prefilled: the app asked for read:shows
    box.set_checked(read_shows)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function(f"document.querySelector('[data-testid=subject]')?.textContent === {subject!r}")


@pytest.mark.parametrize(("read_shows", "shows_status"), [(True, "200"), (False, "403")])
def test_sign_in_call_both_routes_and_log_out(page: Any, read_shows: bool, shows_status: str) -> None:
    assert _call(page, "Call /me")[0] == "401"  # not signed in yet
    _sign_in(page, "alice", read_shows=read_shows)
    assert _text(page, "subject") == "alice"
    status, body = _call(page, "Call /me")
    assert status == "200"
    claims = json.loads(body)["claims"]
    assert claims["sub"] == "alice"
    assert claims["client_id"] == "serverless-jwt-dev-spa"
    status, body = _call(page, "Call /shows")
    assert status == shows_status
    if read_shows:
        assert isinstance(json.loads(body), list)
    else:
        assert "insufficient_scope" in body
    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function(
        "document.querySelector('[data-testid=subject]')?.textContent === '(not signed in)'")
    assert _call(page, "Call /me")[0] == "401"
    assert _call(page, "Call /shows")[0] == "401"


def test_the_issuer_can_be_named_on_the_pages_url(new_page: Any, sample_app: tuple[Any, str]) -> None:
    page = new_page(f"?issuer={quote(sample_app[0].issuer, safe='')}&scope=openid")
    assert _text(page, "issuer") == sample_app[0].issuer
    page.get_by_role("button", name="Log in").click()
    assert not page.get_by_label("read:shows").is_checked()  # scope=openid from the URL
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("document.querySelector('[data-testid=subject]')?.textContent === 'dev-user'")
    assert page.url.endswith("?issuer=" + quote(sample_app[0].issuer, safe="") + "&scope=openid")
    assert _call(page, "Call /shows")[0] == "403"


def test_a_deployed_page_ignores_a_provider_or_api_named_on_its_url(
        browser: Any, sample_app: tuple[Any, str]) -> None:
    # A crafted link must not send a deployed page's tokens to another API, nor its sign-in to another
    # issuer: off loopback, only config.json (here: the API's RFC 9728 metadata) names them.
    deployed = sample_app[1].replace("127.0.0.1", DEPLOYED_HOST)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{deployed}/?issuer={quote('http://127.0.0.1:9/evil', safe='')}"
                  f"&api={quote('http://127.0.0.1:9', safe='')}")
        page.wait_for_selector("body[data-ready=true]")
        assert _text(page, "issuer") == sample_app[0].issuer
        assert _call(page, "Call /me")[0] == "401"  # the page's own API answered, not 127.0.0.1:9
    finally:
        context.close()


def test_a_discovery_document_naming_another_issuer_is_refused(
        new_page: Any, sample_app: tuple[Any, str]) -> None:
    # A mix-up: a copy of the real provider's discovery, served elsewhere, with its own token endpoint.
    real = sample_app[0].discovery()
    fake = json.dumps({**real, "token_endpoint": "http://127.0.0.1:9/steal"}).encode()

    class Copy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(fake)))
            self.end_headers()
            self.wfile.write(fake)

        def log_message(self, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Copy) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            page = new_page(f"?issuer={quote(f'http://127.0.0.1:{server.server_port}', safe='')}")
            status, body = _call(page, "Log in")
            assert (status, body) == ("error", "discovery names another issuer")
            assert page.url.startswith(sample_app[1])  # never sent to the authorization endpoint
        finally:
            server.shutdown()


def test_cancelled_sign_in_shows_the_providers_refusal(page: Any) -> None:
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_selector("body[data-ready=true]")
    assert _text(page, "status") == "login refused"
    assert "access_denied" in _text(page, "body")
    assert _text(page, "subject") == "(not signed in)"


def test_a_page_configured_on_its_url_logs_out_at_the_registered_uri_and_keeps_its_settings(
        new_page: Any, sample_app: tuple[Any, str]) -> None:
    # A real provider matches post_logout_redirect_uri byte for byte against what is registered: the
    # page's bare URL, the one it signs in with, never that URL plus its ?issuer=... settings.
    issuer, api = sample_app
    issuer.oidc.redirect_uris = [api + "/"]
    try:
        page = new_page(f"?issuer={quote(issuer.issuer, safe='')}&scope=openid")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_function("document.querySelector('[data-testid=subject]')?.textContent === 'dev-user'")
        with page.expect_request(lambda r: "/logout" in r.url or "end_session" in r.url) as logout:
            page.get_by_role("button", name="Log out").click()
        assert f"post_logout_redirect_uri={quote(api + '/', safe='')}&" in logout.value.url + "&"
        page.wait_for_url(api + "/")
        page.wait_for_selector("body[data-ready=true]")
        assert _text(page, "subject") == "(not signed in)"
        assert _call(page, "Call /me")[0] == "401"
        page.get_by_role("button", name="Log in").click()  # the tab still has its ?scope=openid
        assert not page.get_by_label("read:shows").is_checked()
    finally:
        issuer.oidc.redirect_uris = None


def test_a_resource_indicator_is_sent_on_the_authorization_and_token_requests(
        new_page: Any, sample_app: tuple[Any, str]) -> None:
    resource = sample_app[0].audience  # the dev provider serves only its own audience (invalid_target)
    page = new_page(f"?resource={quote(resource, safe='')}")
    sent: list[tuple[str, str]] = []
    page.on("request", lambda r: sent.append((r.url, r.post_data or "")))
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("document.querySelector('[data-testid=subject]')?.textContent === 'dev-user'")
    wanted = "resource=" + quote(resource, safe="")
    assert any("/authorize?" in url and wanted in url for url, _ in sent)
    assert any(url.endswith("/oauth/token") and wanted in body for url, body in sent)
    assert _call(page, "Call /me")[0] == "200"


def test_a_sign_in_without_openid_sends_no_nonce(new_page: Any) -> None:
    # nonce belongs to OpenID Connect: oidc-provider refuses it on a plain OAuth request ("openid scope
    # must be requested when using the nonce parameter"), so a page configured with scope=read:shows
    # could not sign in there.
    page = new_page("?scope=read%3Ashows")
    with page.expect_request(lambda r: "/authorize?" in r.url) as authorize:
        page.get_by_role("button", name="Log in").click()
    assert "nonce=" not in authorize.value.url
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("document.querySelector('[data-testid=subject]')?.textContent === 'dev-user'")
    assert _call(page, "Call /shows")[0] == "200"


def test_a_sign_in_with_openid_sends_a_nonce_and_checks_it(new_page: Any) -> None:
    page = new_page("?scope=openid")
    with page.expect_request(lambda r: "/authorize?" in r.url) as authorize:
        page.get_by_role("button", name="Log in").click()
    assert "&nonce=" in authorize.value.url
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("document.querySelector('[data-testid=subject]')?.textContent === 'dev-user'")
    assert _text(page, "status") == "200"


def test_an_answer_without_the_iss_the_provider_promised_is_refused(
        page: Any, sample_app: tuple[Any, str]) -> None:
    # RFC 9207 §2.4: the dev provider's discovery says authorization_response_iss_parameter_supported, so
    # an answer lacking iss (another provider's, in a mix-up) must be refused before its code is spent.
    from urllib.parse import parse_qs, urlsplit

    api = sample_app[1]

    def answer_without_iss(route: Any) -> None:
        state = parse_qs(urlsplit(route.request.url).query)["state"][0]
        route.fulfill(status=302, headers={"Location": f"{api}/?code=from-elsewhere&state={state}"})

    page.route("**/authorize?*", answer_without_iss)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_function("document.querySelector('[data-testid=status]')?.textContent === 'login refused'")
    assert "issuer" in _text(page, "body")
    assert not any(url.endswith("/oauth/token") for url in sent)
    assert _text(page, "subject") == "(not signed in)"


def test_an_unsolicited_error_answer_is_refused_not_shown(new_page: Any) -> None:
    # A link carrying ?error=...&error_description=... (no sign-in of this tab's, no state) must not put
    # a stranger's text on the page as the provider's words (RFC 6749 §10.12: check state first).
    page = new_page("?error=access_denied&error_description=Your+account+is+locked%2C+call+0800+000")
    assert _text(page, "status") == "login refused"
    assert "0800" not in _text(page, "body")
    assert "state" in _text(page, "body")


def test_the_page_names_its_icon_so_the_browser_asks_for_no_missing_favicon(page: Any) -> None:
    # Else every load asks start-api (or the bucket it is deployed to) for /favicon.ico: a 404 in the console.
    assert page.evaluate("document.querySelector('link[rel=icon]').getAttribute('href')") == "data:,"


def test_a_provider_that_neither_promises_nor_sends_iss_still_signs_in(
        page: Any, sample_app: tuple[Any, str]) -> None:
    # Auth0 and Cognito advertise no authorization_response_iss_parameter_supported and send no iss:
    # the RFC 9207 check must let their answers through (it refuses only a missing iss once promised).
    from urllib.parse import parse_qsl, urlencode, urlsplit

    issuer = sample_app[0]
    issuer.discovery_overrides["authorization_response_iss_parameter_supported"] = None

    def answer_without_iss(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch(max_redirects=0)  # the sign-in form's redirect back to the page
        location = urlsplit(answer.headers["location"])
        query = urlencode([(k, v) for k, v in parse_qsl(location.query) if k != "iss"])
        route.fulfill(status=303, headers={"Location": location._replace(query=query).geturl()})

    try:
        page.route("**/authorize*", answer_without_iss)
        with page.expect_request(lambda r: r.url.endswith("/oauth/token")):
            _sign_in(page, "carol", read_shows=True)
        assert "iss=" not in page.url
        assert _call(page, "Call /me")[0] == "200"
    finally:
        issuer.discovery_overrides.pop("authorization_response_iss_parameter_supported")


def test_a_configured_logout_url_that_names_its_own_parameters_gets_no_second_copy(
        browser: Any, sample_app: tuple[Any, str]) -> None:
    # README's Cognito recipe: logoutUrl already carries client_id (and logout_uri). Appending another
    # client_id makes it a repeated parameter, which a provider may refuse (RFC 6749 §3.1: this one does).
    issuer, api = sample_app
    logout_url = f"{issuer.issuer}/logout?client_id=serverless-jwt-dev-spa"
    config = {"issuer": issuer.issuer, "clientId": "serverless-jwt-dev-spa", "scope": "openid",
              "logoutUrl": logout_url}
    context = browser.new_context()
    try:
        context.route("**/config.json", lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(config)))
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(api + "/")
        page.wait_for_selector("body[data-ready=true]")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_function("document.querySelector('[data-testid=subject]')?.textContent === 'dev-user'")
        with page.expect_request(lambda r: r.url.startswith(logout_url)) as logout:
            page.get_by_role("button", name="Log out").click()
        assert logout.value.url.count("client_id=") == 1
        assert "id_token_hint=" in logout.value.url
        page.wait_for_url(api + "/")  # back from the provider's logout, not stopped on its error page
        page.wait_for_selector("body[data-ready=true]")
        assert _text(page, "subject") == "(not signed in)"
    finally:
        context.close()
