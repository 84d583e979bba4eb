"""A small OpenID Connect issuer for the tests: its own RSA keys, a discovery document and a JWKS
served over HTTP on 127.0.0.1, and tokens signed with its current key. `rotate()` makes a new
key current and publishes it beside the old one.

It also signs browsers in, as a provider does for a public client (authorization code with PKCE):
the authorization endpoint approves `user` at once (no login form) and redirects back with a
one-use code; the token endpoint checks that code, its client and redirect URI, and the PKCE
`code_verifier` against the S256 challenge, and answers with an access token and an ID token
carrying the nonce. Its answers carry CORS headers: the dashboard calls it from another origin."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "celery-admin-dashboard"


@dataclass
class User:
    """Who the authorization endpoint signs in: the subject and the access token's claims."""

    subject: str
    claims: dict[str, Any] = field(default_factory=dict)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: User


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


class LocalIssuer:
    def __init__(self, client_id: str = CLIENT_ID) -> None:
        self._keys: list[tuple[str, rsa.RSAPrivateKey]] = []
        self.jwks_requests = 0
        self.client_id = client_id
        self.user: User | None = None  # whom the authorization endpoint approves
        self.access_ttl = 300.0
        self.authorizations: list[dict[str, str]] = []  # the query of each authorization request
        self.exchanges: list[dict[str, str]] = []  # the form of each token request
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self.rotate()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: dict[str, Any], **headers: str) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self._cors()
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(data)

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
                self.send_header("Vary", "Origin")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.send_header("Access-Control-Allow-Methods", "GET, POST")
                self.send_header("Access-Control-Allow-Headers", "Content-Type, Accept")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path.endswith("/.well-known/openid-configuration"):
                    body: dict[str, Any] = issuer.discovery()
                elif path.endswith("/jwks"):
                    issuer.jwks_requests += 1
                    body = issuer.jwks()
                elif path.endswith("/auth"):
                    query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                    try:
                        location = issuer.authorize(query)
                    except OAuthError as exc:
                        self._send(400, exc.body)
                        return
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                else:
                    self.send_error(404)
                    return
                self._send(200, body)

            def do_POST(self) -> None:
                if not urlsplit(self.path).path.endswith("/token"):
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                try:
                    body = issuer.exchange(form)
                except OAuthError as exc:
                    self._send(400, exc.body, Cache_Control="no-store")
                    return
                self._send(200, body, Cache_Control="no-store")

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/realms/test"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "authorization_endpoint": f"{self.url}/protocol/openid-connect/auth",
            "token_endpoint": f"{self.url}/protocol/openid-connect/token",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def sign_in_as(self, subject: str, **claims: Any) -> None:
        """The user the authorization endpoint approves from now on (claims: e.g. `roles`)."""
        self.user = User(subject, claims)

    def authorize(self, query: dict[str, str]) -> str:
        """Approve `user` at once: where the browser goes next (the redirect URI with a code)."""
        self.authorizations.append(query)
        if query.get("client_id") != self.client_id:
            raise OAuthError("unauthorized_client", "unknown client_id")
        if query.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "only the code flow")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise OAuthError("invalid_request", "PKCE with S256 is required")
        redirect = query.get("redirect_uri", "")
        if not redirect.startswith("http://127.0.0.1:"):
            raise OAuthError("invalid_request", "redirect_uri not registered")
        back: dict[str, str] = {}
        if self.user is None:
            back = {"error": "access_denied", "error_description": "no test user signs in"}
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._grants[code] = Grant(
                    self.client_id, redirect, query["code_challenge"], query.get("nonce"), self.user
                )
            back = {"code": code}
        if "state" in query:
            back["state"] = query["state"]
        return f"{redirect}?{urlencode(back)}"

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint: a code once, for its client and redirect URI, with its verifier."""
        self.exchanges.append(form)
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "authorization_code only")
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None:
            raise OAuthError("invalid_grant", "unknown or used code")
        if form.get("client_id") != grant.client_id:
            raise OAuthError("invalid_client", "the code was issued to another client")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization's")
        if s256(form.get("code_verifier", "")) != grant.challenge:
            raise OAuthError("invalid_grant", "PKCE verification failed")
        user = grant.user
        id_claims = {"nonce": grant.nonce} if grant.nonce else {}
        return {
            "access_token": self.token(user.subject, ttl=self.access_ttl, **user.claims),
            "id_token": self.token(user.subject, audience=self.client_id, **id_claims),
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl),
        }

    def rotate(self) -> str:
        kid = uuid.uuid4().hex[:12]
        self._keys.append((kid, rsa.generate_private_key(public_exponent=65537, key_size=2048)))
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self._keys:
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def token(
        self,
        subject: str = "alice",
        *,
        audience: str = "celery-admin",
        ttl: float = 300,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        current_kid, current = self._keys[-1]
        payload: dict[str, Any] = {
            "iss": self.url,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + int(ttl),
            **claims,
        }
        return jwt.encode(
            payload, key or current, algorithm="RS256", headers={"kid": kid or current_kid}
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def local_issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer()
    issuer.start()
    try:
        yield issuer
    finally:
        issuer.stop()


__all__ = ["CLIENT_ID", "LocalIssuer", "User", "local_issuer", "s256"]
