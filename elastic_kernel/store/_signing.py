"""HMAC-SHA256 signatures of manifests with a per-user secret (like notebook trust).

Payloads are pickles, so loading one runs code: only checkpoints signed with the user's own key
are loaded unless the user says they trust the source. The manifest lists every blob's
checksum, so its signature covers the blobs too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pathlib
import secrets
from collections.abc import Mapping
from typing import Any

from elastic_kernel.errors import SignatureError, StoreError

from ._manifest import SIGNATURE_FIELD, canonical_bytes

__all__ = ["load_or_create_key", "sign_body", "verify_signature"]

_ALGORITHM = "hmac-sha256"
_KEY_BYTES = 32
_TRUST_HINT = "pass --trust (or trust=True) only if you trust where it came from"


def load_or_create_key(path: pathlib.Path) -> bytes:
    """Read the user's signing secret, creating it (mode 0600) on first use.

    Parameters
    ----------
    path
        Where the key lives; the kernel uses ``<jupyter data dir>/elastic/secret.key``.

    Returns
    -------
    bytes
        The 32-byte secret.

    Raises
    ------
    StoreError
        When the key cannot be read or created.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: two kernels starting at once must not both create (and disagree on) the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise StoreError(f"cannot create the signing key {path}: {exc.strerror}") from exc
    key = secrets.token_bytes(_KEY_BYTES)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key.hex() + "\n")
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise StoreError(f"cannot write the signing key {path}: {exc.strerror}") from exc
    return key


def _read_key(path: pathlib.Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII"
        raise StoreError(f"cannot read the signing key {path}: {reason}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise StoreError(
            f"the signing key {path} is damaged (expected {2 * _KEY_BYTES} hex digits); delete "
            "it to create a new one (checkpoints signed with the old key will then need --trust)"
        )
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key, so a mismatch can say 'another key' rather than 'tampered'."""
    return hashlib.sha256(b"elastic_kernel key id\0" + key).hexdigest()[:16]


def _mac(body: Mapping[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical_bytes(body), hashlib.sha256).hexdigest()


def sign_body(body: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    """Return ``body`` with a ``signature`` entry over its canonical bytes."""
    signed = dict(body)
    signed[SIGNATURE_FIELD] = {
        "algorithm": _ALGORITHM,
        "key_id": key_id(key),
        "value": _mac(body, key),
    }
    return signed


def verify_signature(signed: Mapping[str, Any], key: bytes, where: str, *, trust: bool) -> None:
    """Check a manifest's signature; with ``trust=True`` accept it whatever the signature.

    Raises
    ------
    SignatureError
        When the signature is missing, made with another key, or does not match the content.
    """
    if trust:
        return
    signature = signed.get(SIGNATURE_FIELD)
    body = {k: v for k, v in signed.items() if k != SIGNATURE_FIELD}
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        raise SignatureError(
            f"{where}: the manifest is not signed, so loading its pickles could run anyone's "
            f"code; {_TRUST_HINT}"
        )
    if signature.get("algorithm") != _ALGORITHM:
        raise SignatureError(
            f"{where}: unknown signature algorithm {signature.get('algorithm')!r}; {_TRUST_HINT}"
        )
    if hmac.compare_digest(signature["value"], _mac(body, key)):
        return
    ours = key_id(key)
    theirs = signature.get("key_id")
    if theirs != ours:
        raise SignatureError(
            f"{where}: signed with another key (key id {theirs}, yours {ours}): it was written "
            f"by another user or machine, or your key changed; {_TRUST_HINT}"
        )
    raise SignatureError(
        f"{where}: the manifest does not match its signature, so it was modified (tampered "
        f"with) after it was written; {_TRUST_HINT}"
    )
