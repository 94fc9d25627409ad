"""Defaults that depend on the environment: where checkpoints go and the per-user signing key.

Only the kernel and the CLI read environment variables, through this module; the library
packages take plain arguments.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

__all__ = [
    "ENV_ALPHA",
    "ENV_AUTORESTORE",
    "ENV_AUTOSAVE",
    "ENV_AUTOSAVE_MAX_DISK",
    "ENV_AUTOSAVE_MAX_MEMORY",
    "ENV_RESTORE",
    "ENV_SESSION",
    "ENV_STORE",
    "ENV_TEST_LOAD_DELAY",
    "JPY_SESSION_NAME",
    "default_key_path",
    "default_session_key",
    "default_store",
    "library_cache_roots",
    "load_delay_for_tests",
    "parse_autosave",
    "parse_bytes",
    "parse_restore_mode",
    "pending_restore_path",
    "session_key_from",
]

ENV_STORE = "ELASTIC_STORE"
ENV_SESSION = "ELASTIC_SESSION"
ENV_ALPHA = "ELASTIC_ALPHA"
ENV_AUTOSAVE = "ELASTIC_AUTOSAVE"
ENV_AUTORESTORE = "ELASTIC_AUTORESTORE"
ENV_RESTORE = "ELASTIC_RESTORE"
# Test-only: seconds the background restore sleeps before loading each stored group, so tests
# can observe "still loading" deterministically. Never set it for real work.
ENV_TEST_LOAD_DELAY = "ELASTIC_TEST_LOAD_DELAY"
RESTORE_MODES = ("background", "blocking")
ENV_AUTOSAVE_MAX_MEMORY = "ELASTIC_AUTOSAVE_MAX_MEMORY"
ENV_AUTOSAVE_MAX_DISK = "ELASTIC_AUTOSAVE_MAX_DISK"
BYTE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
JPY_SESSION_NAME = "JPY_SESSION_NAME"
UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def parse_autosave(text: str) -> int:
    """``on``/``off``/``N`` (every N cells) -> N, 0 meaning off.

    Raises
    ------
    ValueError
        For anything else, naming the value.
    """
    cleaned = text.strip().lower()
    if cleaned in ("on", "true", "yes"):
        return 1
    if cleaned in ("off", "false", "no", ""):
        return 0
    try:
        every = int(cleaned)
    except ValueError:
        raise ValueError(f"autosave must be on, off or a number of cells, got {text!r}") from None
    if every < 0:
        raise ValueError(f"autosave must be on, off or a number of cells, got {text!r}")
    return every


def parse_bytes(text: str) -> int:
    """``1073741824``, ``512M``, ``2G``, ``1.5GiB`` -> bytes (binary units); 0 means no limit.

    Raises
    ------
    ValueError
        For anything else, naming the value.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if match is None:
        raise ValueError(f"expected a size such as 2G, 512M or a number of bytes, got {text!r}")
    return int(float(match.group(1)) * BYTE_UNITS[match.group(2)])


def parse_restore_mode(text: str) -> str:
    """``background`` (the default) or ``blocking``.

    Raises
    ------
    ValueError
        For anything else, naming the value.
    """
    cleaned = text.strip().lower()
    if cleaned in RESTORE_MODES:
        return cleaned
    raise ValueError(f"restore mode must be background or blocking, got {text!r}")


def load_delay_for_tests() -> float:
    """``ELASTIC_TEST_LOAD_DELAY`` in seconds (0 when unset or not a number): test-only."""
    try:
        return max(0.0, float(os.environ.get(ENV_TEST_LOAD_DELAY) or 0))
    except ValueError:
        return 0.0


def library_cache_roots() -> list[str]:
    """Where libraries keep caches they rebuild at will: the user cache directory
    (``$XDG_CACHE_HOME``, else ``~/.cache``) and matplotlib's configuration directory
    (``$MPLCONFIGDIR``, else ``~/.config/matplotlib``), which its first import creates."""
    home = Path.home()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [
        os.environ.get("XDG_CACHE_HOME") or str(home / ".cache"),
        os.environ.get("MPLCONFIGDIR") or str(config / "matplotlib"),
    ]


def elastic_data_dir() -> Path:
    return Path(jupyter_data_dir()) / "elastic"


def default_store() -> str:
    """``ELASTIC_STORE``, else ``<jupyter data dir>/elastic/checkpoints``."""
    return os.environ.get(ENV_STORE) or str(elastic_data_dir() / "checkpoints")


def default_key_path() -> Path:
    """The per-user HMAC secret that signs checkpoints (created on first use, mode 0600)."""
    return elastic_data_dir() / "secret.key"


def pending_restore_path(session_key: str) -> Path:
    """Marker naming the checkpoint the next process of this kernel restores (restart with
    state). Kept in the Jupyter runtime dir: a restart happens on the same machine."""
    from jupyter_core.paths import jupyter_runtime_dir

    return Path(jupyter_runtime_dir()) / f"elastic-pending-{session_key_from(session_key)}.json"


def session_key_from(text: str) -> str:
    """A store-safe session key from a notebook path or any label (stable for equal input)."""
    cleaned = UNSAFE_KEY_CHARS.sub("_", text.strip()).strip("._")
    return cleaned[-120:] or "session"


def default_session_key(connection_file: str | None = None) -> str:
    """``ELASTIC_SESSION``, else ``JPY_SESSION_NAME`` (the notebook path), else the connection
    file's name (stable across restarts of one kernel), else a fresh id."""
    explicit = os.environ.get(ENV_SESSION)
    if explicit:
        return session_key_from(explicit)
    notebook = os.environ.get(JPY_SESSION_NAME)
    if notebook:
        return session_key_from(notebook)
    if connection_file:
        return session_key_from(Path(connection_file).stem)
    return f"session-{uuid.uuid4().hex[:12]}"
