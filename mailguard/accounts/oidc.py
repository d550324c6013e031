"""Sign-in through an OpenID Connect provider (Entra ID, Keycloak, ...): the
authorization code flow with PKCE, and the ID token checked here (signature against
the provider's published keys, issuer, audience, expiry, nonce) before anyone is let
in. Nothing is stored but the session that follows.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt
from itsdangerous import BadSignature, URLSafeTimedSerializer

from mailguard.config import OidcSettings
from mailguard.log import get_logger

log = get_logger()

_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
PENDING_SECONDS = 600  # a sign-in started this long ago cannot be finished


class OidcError(Exception):
    """The provider cannot be used, or its answer cannot be trusted; said plainly."""


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True, slots=True)
class Claims:
    username: str
    name: str
    groups: tuple[str, ...]


class OidcClient:
    def __init__(self, settings: OidcSettings, redirect_uri: str, secret: bytes) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self._signer = URLSafeTimedSerializer(secret, salt="mailguard-oidc")
        self._provider: Provider | None = None
        self._keys: jwt.PyJWKSet | None = None
        self._keys_at = 0.0

    async def _get(self, url: str) -> dict[str, object]:
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout) as http:
                response = await http.get(url)
                response.raise_for_status()
                doc = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(f"{url}: {type(exc).__name__}: {exc}") from None
        if not isinstance(doc, dict):
            raise OidcError(f"{url}: not a JSON object")
        return doc

    async def provider(self) -> Provider:
        """The provider's endpoints from its discovery document (asked once)."""
        if self._provider is None:
            doc = await self._get(self.settings.discovery_url)
            try:
                self._provider = Provider(
                    str(doc["issuer"]),
                    str(doc["authorization_endpoint"]),
                    str(doc["token_endpoint"]),
                    str(doc["jwks_uri"]),
                )
            except KeyError as exc:
                raise OidcError(
                    f"{self.settings.discovery_url}: not an OpenID discovery document"
                    f" (no {exc.args[0]})"
                ) from None
        return self._provider

    async def check(self) -> bool:
        """At start: one clear line in the log if the provider cannot be used."""
        try:
            provider = await self.provider()
        except Exception as exc:  # OidcError, or a surprise: the UI must still start
            log.error(
                "oidc_unavailable", error=str(exc) if isinstance(exc, OidcError) else repr(exc)
            )
            return False
        log.info("oidc_ready", issuer=provider.issuer)
        return True

    async def start(self, next_path: str) -> tuple[str, str]:
        """Where to send the browser, and the signed state to keep in its cookie."""
        provider = await self.provider()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": " ".join(self.settings.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        pending = self._signer.dumps([state, nonce, verifier, next_path])
        return f"{provider.authorization_endpoint}?{query}", pending

    def pending(self, cookie: str, state: str) -> tuple[str, str, str]:
        """The nonce, PKCE verifier and page to return to, if ``state`` is ours."""
        try:
            saved, nonce, verifier, next_path = self._signer.loads(cookie, max_age=PENDING_SECONDS)
        except (BadSignature, ValueError, TypeError):
            raise OidcError("the sign-in took too long or was not started here") from None
        if not secrets.compare_digest(str(saved), state):
            raise OidcError("the sign-in answer does not match the request")
        return nonce, verifier, next_path

    async def finish(self, code: str, nonce: str, verifier: str) -> Claims:
        provider = await self.provider()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            "client_id": self.settings.client_id,
        }
        secret = self.settings.secret()
        auth = (self.settings.client_id, secret) if secret else None
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout) as http:
                response = await http.post(provider.token_endpoint, data=data, auth=auth)
        except httpx.HTTPError as exc:
            raise OidcError(f"token endpoint: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise OidcError(f"token endpoint refused the code: HTTP {response.status_code}")
        try:
            id_token = str(response.json()["id_token"])
        except (ValueError, KeyError, TypeError):
            raise OidcError("token endpoint gave no id_token") from None
        claims = await self._verify(id_token, provider)
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("the ID token was not issued for this sign-in (nonce)")
        return self._claims(claims)

    async def _verify(self, id_token: str, provider: Provider) -> dict[str, object]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise OidcError(f"not an ID token: {exc}") from None
        key = await self._key(provider, str(header.get("kid", "")))
        try:
            return jwt.decode(
                id_token,
                key.key,
                algorithms=[a for a in _ALGORITHMS if a == header.get("alg")],
                audience=self.settings.client_id,
                issuer=provider.issuer,
                leeway=60,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise OidcError(f"the ID token failed its checks: {exc}") from None

    async def _key(self, provider: Provider, kid: str) -> jwt.PyJWK:
        """The provider's signing key; its key set is asked again when a new key id
        appears (key rotation), at most once a minute."""
        for attempt in range(2):
            if self._keys is None or (attempt and time.monotonic() - self._keys_at > 60):
                try:
                    self._keys = jwt.PyJWKSet.from_dict(await self._get(provider.jwks_uri))
                except jwt.PyJWTError as exc:
                    raise OidcError(f"{provider.jwks_uri}: {exc}") from None
                self._keys_at = time.monotonic()
            for key in self._keys.keys:
                if not kid or key.key_id == kid:
                    return key
        raise OidcError(f"the provider has no signing key {kid!r}")

    def _claims(self, claims: dict[str, object]) -> Claims:
        s = self.settings
        email = claims.get("email") if claims.get("email_verified") is True else None
        username = claims.get(s.username_claim) or email or claims.get("sub")
        groups = claims.get(s.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        name = claims.get("name") or username
        return Claims(
            str(username).lower(),
            str(name),
            tuple(str(g) for g in groups) if isinstance(groups, list) else (),
        )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
