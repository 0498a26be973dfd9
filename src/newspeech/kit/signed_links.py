"""Short-lived signed links: a URL that carries its own proof (HMAC-SHA256) that the server
handed it to one user for one resource until one moment.

An ``<audio src>`` cannot send an ``Authorization`` header, so a player given a bearer-only URL
has to download the whole file first. A signed link lets it stream (and seek with Range
requests) instead. The key is derived from the product's secret for one purpose, so a link's
signature is never valid as anything else and the secret itself never signs user data.

The signature travels in the URL's query (:data:`SIGNATURE_PARAMETER`), so whoever reads the
URL can play the recording until the link expires: the logs write it as ``[redacted]``
(``observability/logs.py`` :func:`redact_signatures`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_PARAMETER = "signature"
"""The query parameter a signed link carries its signature in."""


class InvalidLink(Exception):
    """The link's signature does not match, or it has expired."""


@dataclass(frozen=True)
class LinkSigner:
    """Signs and checks links for one ``purpose`` (e.g. ``"recording-audio"``)."""

    secret: str
    purpose: str

    def _key(self) -> bytes:
        return hmac.new(
            self.secret.encode(), f"newspeech signed link v1: {self.purpose}".encode(), "sha256"
        ).digest()

    def sign(self, resource_id: int, user_id: int, expires: int) -> str:
        """The signature of a link to ``resource_id`` for ``user_id`` until ``expires``
        (seconds since the epoch), URL-safe base64 without padding."""
        message = f"{resource_id}:{user_id}:{expires}".encode()
        digest = hmac.new(self._key(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def check(self, resource_id: int, user_id: int, expires: int, signature: str, now: int) -> None:
        """Raise :class:`InvalidLink` unless ``signature`` signs exactly these values and
        ``now`` is before ``expires``. The comparison takes the same time whatever differs."""
        expected = self.sign(resource_id, user_id, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise InvalidLink("the link's signature does not match")
        if now >= expires:
            raise InvalidLink("the link has expired")
