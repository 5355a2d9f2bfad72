"""The dev provider's sign-in page: plain HTML (no script), every value escaped.

Hand-written rather than a template engine: one small form does not earn a Jinja dependency, and
``html.escape`` on every inserted value is the whole escaping policy (values come from the request).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["login_page", "message_page"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem}label{display:block;margin:.6rem 0 .2rem}fieldset{margin:.8rem 0}
input[type=text],textarea{width:100%;box-sizing:border-box;padding:.3rem;font:inherit}
.scope label{display:inline-block;margin:.2rem 1rem .2rem 0}.error{color:#a00;font-weight:bold}
.client{color:#555;font-size:.9rem}button{font:inherit;padding:.4rem 1rem;margin-right:.5rem}
"""


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    ).encode()


def login_page(
    *,
    action: str,
    transaction: str,
    client_id: str,
    redirect_uri: str,
    subject: str,
    offered_scopes: Sequence[str],
    checked_scopes: Sequence[str],
    roles: str = "",
    claims_json: str = "",
    error: str | None = None,
) -> bytes:
    """The sign-in form: Subject, one checkbox per offered scope, roles, extra claims, Sign in / Cancel."""
    esc = html.escape
    boxes = []
    for n, scope in enumerate(offered_scopes):
        checked = " checked" if scope in checked_scopes else ""
        boxes.append(
            f'<label for="scope-{n}"><input type="checkbox" id="scope-{n}" name="scope" '
            f'value="{esc(scope)}"{checked}> {esc(scope)}</label>'
        )
    problem = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    body = (
        "<h1>Sign in to the serverless-jwt dev provider</h1>"
        f'<p class="client">Client <code>{esc(client_id)}</code> will receive the tokens at '
        f"<code>{esc(redirect_uri)}</code>. No password: this provider is for local development.</p>"
        f"{problem}"
        f'<form method="post" action="{esc(action)}">'
        f'<input type="hidden" name="transaction" value="{esc(transaction)}">'
        '<label for="subject">Subject</label>'
        f'<input type="text" id="subject" name="subject" value="{esc(subject)}" required>'
        '<fieldset class="scope"><legend>Scopes</legend>' + "".join(boxes) + "</fieldset>"
        '<label for="roles">Roles (space-separated)</label>'
        f'<input type="text" id="roles" name="roles" value="{esc(roles)}">'
        '<label for="claims">Extra claims (a JSON object, optional)</label>'
        f'<textarea id="claims" name="claims" rows="3">{esc(claims_json)}</textarea>'
        '<p><button type="submit" name="action" value="sign_in">Sign in</button>'
        '<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button></p>'
        "</form>"
    )
    return _page("Sign in - serverless-jwt dev provider", body)


def message_page(title: str, text: str) -> bytes:
    """A page for what cannot be sent back to the client (unknown client, unregistered redirect URI)."""
    return _page(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>")
