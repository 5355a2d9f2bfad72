"""What ``invoke`` reads and sends (dev/_invoke_inputs.py): the event, its token, the --env-vars file."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from serverless_jwt.dev import _support
from serverless_jwt.dev._invoke_inputs import (
    authorizer_event_mismatch,
    default_event,
    example_path,
    get_authorization,
    read_env_vars,
    read_event,
    set_authorization,
    unusual_authorization,
)
from serverless_jwt.dev.apigw import collect
from serverless_jwt.dev.template import Template
from serverless_jwt.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> Template:
    return Template(ROOT / "template.yaml")


def test_the_commands_still_find_them_in_support() -> None:
    for name in ("authorizer_event_mismatch", "default_event", "get_authorization", "read_env_vars",
                 "read_event", "set_authorization", "unusual_authorization"):
        assert getattr(_support, name) is globals()[name], name


def test_token_injection_follows_the_authorizer_event_shape() -> None:
    token = {"type": "TOKEN", "authorizationToken": "Bearer old", "methodArn": "arn"}
    set_authorization(token, "Bearer new")
    assert token["authorizationToken"] == "Bearer new"
    assert get_authorization(token) == "Bearer new"
    v2 = {"version": "2.0", "type": "REQUEST", "identitySource": ["Bearer old", "x"],
          "headers": {"Authorization": "Bearer old"}}
    set_authorization(v2, "Bearer new")
    assert v2["identitySource"] == ["Bearer new", "x"]
    assert v2["headers"] == {"authorization": "Bearer new"}
    http_v1 = {"type": "REQUEST", "identitySource": "", "authorizationToken": "", "headers": {}}
    set_authorization(http_v1, "Bearer new")
    assert http_v1["identitySource"] == http_v1["authorizationToken"] == "Bearer new"
    set_authorization(http_v1, None)
    assert http_v1["identitySource"] == ""
    assert "authorization" not in http_v1["headers"]
    placeholder = {"headers": {"Authorization": "Bearer <paste a token from: serverless-jwt token>"}}
    assert get_authorization(placeholder) is None
    assert get_authorization({"type": "TOKEN", "authorizationToken": "<token>"}) is None
    assert get_authorization({"headers": {"Authorization": "Bearer not.a.token"}}) == (
        "Bearer not.a.token")


@pytest.mark.parametrize(("event", "why"), [
    ({"headers": []}, "its headers is not an object"),
    ({"headers": {"authorization": 5}}, "its headers 'authorization' is not text"),
    ({"multiValueHeaders": {"Authorization": []}}, "its multiValueHeaders 'Authorization' is not text"),
    ({"multiValueHeaders": {"Authorization": ["Bearer a", None]}}, "'Authorization' is not text"),
    ({"type": "TOKEN", "authorizationToken": ["Bearer a"]}, "its authorizationToken is not text"),
])
def test_credentials_in_a_shape_api_gateway_never_sends_are_named(event: dict[str, object], why: str) -> None:
    assert why in (unusual_authorization(event) or "")


@pytest.mark.parametrize("event", [
    {}, {"headers": None}, {"headers": {"authorization": "Bearer x"}, "multiValueHeaders": None},
    {"multiValueHeaders": {"Authorization": ["Bearer x"]}}, {"headers": {"x-other": 5}},
    {"type": "TOKEN"}, {"type": "TOKEN", "authorizationToken": "Bearer x"},
])
def test_credentials_as_api_gateway_sends_them_or_none_are_usual(event: dict[str, object]) -> None:
    assert unusual_authorization(event) is None


def test_a_token_put_in_a_rest_event_keeps_the_header_name_as_its_client_wrote_it() -> None:
    # REST APIs pass header names as the client sent them ("Authorization" from curl, in headers and
    # multiValueHeaders alike): the minted token went in as headers["authorization"], so a REQUEST
    # authorizer or handler reading event["headers"]["Authorization"] failed under invoke only
    # (events/authorizer-request.json writes "Authorization").
    rest = json.loads((ROOT / "events" / "authorizer-request.json").read_text())
    set_authorization(rest, "Bearer new")
    assert rest["headers"]["Authorization"] == "Bearer new"
    assert rest["multiValueHeaders"]["Authorization"] == ["Bearer new"]
    assert "authorization" not in rest["headers"]
    unsent = {"httpMethod": "GET", "headers": {"Host": "h", "User-Agent": "curl"},
              "multiValueHeaders": {"Host": ["h"], "User-Agent": ["curl"]}}
    set_authorization(unsent, "Bearer new")
    assert unsent["headers"]["Authorization"] == "Bearer new"  # as its other headers are written
    assert unsent["multiValueHeaders"]["Authorization"] == ["Bearer new"]
    lowercase = {"httpMethod": "GET", "headers": {"host": "h"}}  # an HTTP API's payload 1.0: lowercased
    set_authorization(lowercase, "Bearer new")
    assert lowercase["headers"] == {"host": "h", "authorization": "Bearer new"}


def test_route_parameters_are_filled_with_1() -> None:
    assert example_path("/shows/{id}") == "/shows/1"
    assert example_path("/users/{user}/shows/{id}/") == "/users/1/shows/1/"
    assert example_path("/shows/{proxy+}") == "/shows/1"
    assert example_path("/") == "/"


def test_the_default_event_is_what_api_gateway_sends_the_first_route(template: Template) -> None:
    event = default_event(template.function("MeFunction"), template)
    assert event["version"] == "2.0"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["rawPath"] == "/me"
    assert get_authorization(event) is None


def test_an_authorizer_gets_the_event_of_the_route_it_guards_without_a_token(template: Template) -> None:
    event = default_event(template.function("AuthorizerFunction"), template)
    assert event["type"] == "TOKEN"
    assert event["authorizationToken"] == ""
    assert event["methodArn"].endswith("/prod/GET/me")
    assert get_authorization(event) is None


def test_without_a_template_the_event_is_a_2_0_get_of_the_root(template: Template) -> None:
    event = default_event(template.function("ShowsFunction"))
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /"
    assert event["rawPath"] == "/"
    assert event["requestContext"]["http"]["method"] == "GET"


def test_an_event_file_holds_any_json_value_as_lambda_takes(template: Template, tmp_path: Path) -> None:
    function = template.function("MeFunction")
    given = tmp_path / "event.json"
    given.write_text(json.dumps({"headers": {"authorization": "Bearer a.b.c"}}), encoding="utf-8")
    assert read_event(str(given), function, template) == {"headers": {"authorization": "Bearer a.b.c"}}
    made = read_event(None, function, template)  # no file: the default event
    assert (made["version"], made["rawPath"]) == ("2.0", "/me")
    for value in ([1, 2], "text", 7, None):  # `aws lambda invoke` and `sam local invoke` send these too
        given.write_text(json.dumps(value), encoding="utf-8")
        assert read_event(str(given), function, template) == value
    for constant in ("NaN", "Infinity", "-Infinity"):  # not JSON: Lambda's Invoke API refuses them
        given.write_text(f'{{"a": {constant}}}', encoding="utf-8")
        with pytest.raises(ConfigurationError, match="is not valid JSON"):
            read_event(str(given), function, template)
    given.write_text('{"a": 1,}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"is not valid JSON \(line 1\)"):
        read_event(str(given), function, template)
    with pytest.raises(ConfigurationError, match=r"cannot read event file .*: it is a folder"):
        read_event(str(tmp_path), function, template)


def test_an_empty_path_is_named_as_such_not_taken_for_the_working_folder(template: Template) -> None:
    # `invoke -e ""` (an unset shell variable) said "cannot read event file : it is a folder".
    with pytest.raises(ConfigurationError, match=r"cannot read event file '': the path is empty"):
        read_event("", template.function("MeFunction"), template)
    with pytest.raises(ConfigurationError, match=r"cannot read --env-vars file '': the path is empty"):
        read_env_vars("")


def test_an_empty_standard_input_is_named_as_such(template: Template,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))  # `invoke -e - < /dev/null`
    with pytest.raises(ConfigurationError, match=r"event - is empty: nothing was written to standard input"):
        read_event("-", template.function("MeFunction"), template)


def test_an_env_vars_file_is_an_object_of_objects(tmp_path: Path) -> None:
    given = tmp_path / "env.json"
    given.write_text('{"Parameters": {"A": "1"}, "MeFunction": {"B": "2"}}', encoding="utf-8")
    assert read_env_vars(str(given)) == {"Parameters": {"A": "1"}, "MeFunction": {"B": "2"}}
    for wrong in ('{"A": "1"}', '["Parameters"]'):
        given.write_text(wrong, encoding="utf-8")
        with pytest.raises(ConfigurationError, match="must be a JSON object of objects"):
            read_env_vars(str(given))


def test_an_env_vars_file_that_is_not_json_is_read_as_a_dotenv_file_as_sam_reads_it(tmp_path: Path) -> None:
    # sam local (python-dotenv) takes `--env-vars .env` as every function's Parameters.
    given = tmp_path / ".env"
    given.write_text('# local\nexport STAGE=dev\nGREETING="hello world"\n', encoding="utf-8")
    assert read_env_vars(str(given)) == {"Parameters": {"STAGE": "dev", "GREETING": "hello world"}}
    # A broken JSON file is not taken for one (sam would run on with '{' as a name and no value).
    for broken in ('{"Parameters": {"A": "1"}\n', "{\n  STAGE=dev\n}\n", "just words\n"):
        given.write_text(broken, encoding="utf-8")
        with pytest.raises(ConfigurationError, match=r"is not valid JSON \(line \d+\), nor a .env file"):
            read_env_vars(str(given))



@pytest.mark.parametrize(("text", "line"), [
    ('A=1\nB="sekrit-unterminated\n', 2),  # python-dotenv drops it and reads A alone
    ('A=1\n\n# note\n\nB="sekrit-unterminated\n', 5),
    ("A=1\nsekrit-alone\n", 2),  # a name without a value
])
def test_a_dotenv_line_python_dotenv_cannot_read_is_refused_by_its_number(
        tmp_path: Path, text: str, line: int) -> None:
    given = tmp_path / ".env"
    given.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=rf"NAME=value lines \(line {line} is not") as caught:
        read_env_vars(str(given))
    assert "sekrit" not in str(caught.value)  # the line may hold a secret: never echoed


def test_an_event_of_the_other_authorizer_type_is_named_and_any_other_is_fine(template: Template) -> None:
    routes = collect(template).routes
    authorizer = template.function("AuthorizerFunction")
    mismatch = authorizer_event_mismatch({"type": "REQUEST"}, authorizer, routes)
    assert mismatch is not None
    assert mismatch.startswith("AuthorizerFunction is a TOKEN authorizer in the template, but this is a "
                               "REQUEST event")
    assert authorizer_event_mismatch({"type": "TOKEN"}, authorizer, routes) is None
    assert authorizer_event_mismatch({"version": "2.0"}, authorizer, routes) is None
    assert authorizer_event_mismatch({"type": "REQUEST"}, template.function("MeFunction"), routes) is None
