"""Secret tokens in the paths of the unit feeds: HMAC-SHA256 of the unit's id under one secret.

The secret comes from ``ARSHJUL_FEED_SECRET``, or from a file created once in arshjul's home,
``var/feed-secret``
(mode 0600), so that the tokens, and with them the links people subscribed to, survive
restarts. Deleting the file changes every unit's link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from arshjul import home
from arshjul.errors import ConfigError

SECRET_ENV = "ARSHJUL_FEED_SECRET"
_MIN_SECRET_LENGTH = 16
_TOKEN_BYTES = 18  # 144 bits, 24 characters in the URL


def load_secret(path: Path | None = None) -> bytes:
    """``ARSHJUL_FEED_SECRET``, or the secret in ``path`` (default: ``var/feed-secret`` in
    arshjul's home), made there if it does not exist."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env is not None:
        return _checked(from_env.encode(), SECRET_ENV)
    path = path or home.var("feed-secret")
    if not path.exists():
        _create_secret(path)
    return _checked(path.read_bytes().strip(), str(path))


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(32).encode())
        # a hard link never replaces: when two processes race, the first secret wins
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)


def _checked(secret: bytes, source: str) -> bytes:
    if len(secret) < _MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{source}: the feed secret must have at least {_MIN_SECRET_LENGTH} characters"
        )
    return secret


def unit_token(secret: bytes, unit_id: str) -> str:
    """The token in the path of ``unit_id``'s feed: stable, unguessable without the secret."""
    digest = hmac.new(secret, b"unit-feed\x00" + unit_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_TOKEN_BYTES]).decode("ascii")
