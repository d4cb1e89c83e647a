"""Authlib glue: one Flask OAuth client per school provider, built from its database row.

Authlib does the protocol: a random state and nonce kept in the signed
session cookie, PKCE (S256), the code exchange, and the ID token checked
against the signing keys published in the provider's discovery document
(issuer, audience, expiry, nonce).
"""

from __future__ import annotations

import hashlib
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from consentflow.auth.oidc import BOX_PURPOSE
from consentflow.auth.secret_box import SecretBox
from consentflow.models import SignInProvider

_EXTENSION_KEY = "consentflow_oidc"


def _registry(app: Flask) -> OAuth:
    oauth = app.extensions.get(_EXTENSION_KEY)
    if oauth is None:
        oauth = OAuth(app)
        app.extensions[_EXTENSION_KEY] = oauth
    return oauth


def client_for(provider: SignInProvider) -> Any:
    """The Authlib client of this provider; a changed configuration gets a fresh client."""
    secret = SecretBox(current_app.config["SECRET_KEY"], BOX_PURPOSE).open(provider.client_secret_sealed)
    fingerprint = hashlib.sha256(
        "|".join([provider.issuer, provider.client_id, provider.scopes, secret]).encode()
    ).hexdigest()[:12]
    name = f"school{provider.id}_{fingerprint}"
    oauth = _registry(current_app._get_current_object())  # type: ignore[attr-defined]
    client = oauth.create_client(name)
    if client is None:
        client = oauth.register(
            name,
            client_id=provider.client_id,
            client_secret=secret,
            server_metadata_url=provider.issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": provider.scopes, "code_challenge_method": "S256",
                           "timeout": 15},
        )
    return client
