"""The elastic kernel's settings: traitlets on ``ElasticKernel`` (also ``ipython_kernel_config.py``
and ``%config ElasticKernel.x = ...``), each with an environment override."""

from __future__ import annotations

import os
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from traitlets import Bool, Float, Int, TraitError, Unicode, default, observe, validate

from elastic_kernel import config

__all__ = ["SettingsKernel"]


class SettingsKernel(IPythonKernel):  # type: ignore[misc]
    """The configurable traits; changes reach the running session and autosaver at once."""

    store = Unicode(
        help=(
            "Where checkpoints go: a directory or an fsspec URL (s3://bucket/prefix, memory://x). "
            f"Default: ${config.ENV_STORE}, else <jupyter data dir>/elastic/checkpoints."
        )
    ).tag(config=True)

    session_key = Unicode(
        help=(
            "Key naming this notebook's checkpoints in the store. Default: "
            f"${config.ENV_SESSION}, else ${config.JPY_SESSION_NAME} (the notebook path), else "
            "the connection file name."
        )
    ).tag(config=True)

    alpha = Float(
        help=(
            "Weight of checkpoint time against restore time in the replication plan (1 = both "
            f"equally; large = fast checkpoint; small = fast restore). Default: ${config.ENV_ALPHA}"
            ", else 1."
        )
    ).tag(config=True)

    autosave = Int(
        help=(
            "Checkpoint in the background after every N recorded cells (0 = off). The cell "
            "boundary only pays for a fork; the checkpoint is written by the child process. "
            f"Default: ${config.ENV_AUTOSAVE} (on, off or N), else 1."
        )
    ).tag(config=True)

    autorestore = Bool(
        help=(
            "When the previous process of this session ended without a restart with state "
            "(crash, OOM kill), restore its last checkpoint before the first cell instead of "
            f"only saying it exists. Default: ${config.ENV_AUTORESTORE}=1, else False."
        )
    ).tag(config=True)

    autosave_max_memory = Int(
        help=(
            "Extra memory (bytes) a background checkpoint may cost: the copy-on-write pages of "
            "the forked writer. Past it the writer is killed and that autosave skipped (see "
            f"%elastic status). 0 = no cap. Default: ${config.ENV_AUTOSAVE_MAX_MEMORY} (2G, "
            "512M or bytes), else a quarter of the machine's RAM."
        )
    ).tag(config=True)

    autosave_max_disk = Int(
        help=(
            "Disk (bytes) this session's autosaves may occupy in the store; an autosave that "
            "would exceed it, or not fit in a local store's free space, is skipped. The two "
            f"newest autosaves are kept. 0 = no budget. Default: ${config.ENV_AUTOSAVE_MAX_DISK} "
            "(10G, 512M or bytes), else 0."
        )
    ).tag(config=True)

    @default("autosave_max_memory")
    def _default_autosave_max_memory(self) -> int:
        # A quarter of RAM: room for a cell that rewrites a large share of the state while its
        # previous version is being written, without inviting the OOM killer.
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return _env_bytes(config.ENV_AUTOSAVE_MAX_MEMORY, ram // 4)

    @default("autosave_max_disk")
    def _default_autosave_max_disk(self) -> int:
        return _env_bytes(config.ENV_AUTOSAVE_MAX_DISK, 0)

    restore_mode = Unicode(
        help=(
            "How %restore, the comm restore op and restart with state restore: 'background' "
            "returns at once and loads on a thread, each cell waiting only for the variables "
            "it reads; 'blocking' returns when everything is back. Default: "
            f"${config.ENV_RESTORE}, else background."
        )
    ).tag(config=True)

    @default("restore_mode")
    def _default_restore_mode(self) -> str:
        raw = os.environ.get(config.ENV_RESTORE)
        if not raw:
            return "background"
        try:
            return config.parse_restore_mode(raw)
        except ValueError as exc:
            raise TraitError(f"{config.ENV_RESTORE}: {exc}") from None

    @validate("restore_mode")
    def _validate_restore_mode(self, proposal: dict[str, Any]) -> str:
        try:
            return config.parse_restore_mode(str(proposal["value"]))
        except ValueError as exc:
            raise TraitError(str(exc)) from None

    @default("autosave")
    def _default_autosave(self) -> int:
        import os

        raw = os.environ.get(config.ENV_AUTOSAVE)
        if raw is None:
            return 1
        try:
            return config.parse_autosave(raw)
        except ValueError as exc:
            raise TraitError(f"{config.ENV_AUTOSAVE}: {exc}") from None

    @default("autorestore")
    def _default_autorestore(self) -> bool:
        import os

        return os.environ.get(config.ENV_AUTORESTORE, "").strip().lower() in ("1", "true", "on")

    @default("store")
    def _default_store(self) -> str:
        return config.default_store()

    @default("session_key")
    def _default_session_key(self) -> str:
        connection_file = getattr(self.parent, "abs_connection_file", None)
        return config.default_session_key(connection_file)

    @default("alpha")
    def _default_alpha(self) -> float:
        import os

        raw = os.environ.get(config.ENV_ALPHA)
        if raw is None or raw == "":
            return 1.0
        try:
            return float(raw)
        except ValueError:
            raise TraitError(f"{config.ENV_ALPHA}={raw!r} is not a number") from None

    @validate("alpha")
    def _validate_alpha(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise TraitError(f"alpha must be a positive number, got {value!r}")
        return value

    @observe("autosave")
    def _autosave_changed(self, change: dict[str, Any]) -> None:
        saver = getattr(self, "autosaver", None)
        if saver is not None:
            saver.enabled = change["new"] > 0
            saver.every = max(1, change["new"])

    @observe("autosave_max_memory")
    def _autosave_max_memory_changed(self, change: dict[str, Any]) -> None:
        saver = getattr(self, "autosaver", None)
        if saver is not None:
            saver.max_memory = change["new"] or None

    @observe("store", "session_key", "alpha")
    def _settings_changed(self, change: dict[str, Any]) -> None:
        # `%config ElasticKernel.store = ...` takes effect at once.
        session = getattr(self, "elastic", None)
        if session is not None:
            setattr(session.settings, change["name"], change["new"])


def _env_bytes(name: str, fallback: int) -> int:
    raw = os.environ.get(name)
    try:
        return fallback if raw is None else config.parse_bytes(raw)
    except ValueError as exc:
        raise TraitError(f"{name}: {exc}") from None
