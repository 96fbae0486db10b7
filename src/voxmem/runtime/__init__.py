"""The voxmem runtime: one local service per data directory, shared by every process.

``voxmem serve`` runs it in the foreground; a client with no runtime URL starts it as a
detached process on first use (see :mod:`voxmem.client`). The REST API is generated
from the operation table, so it behaves exactly like the embedded engine.

The ASGI app and the server are imported on first access: a client that only needs the
discovery files must not pay for importing the web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._discovery import Discovery, read_discovery, runtime_lock_held

if TYPE_CHECKING:
    from ._app import RuntimeHooks, create_app
    from ._server import serve

__all__ = ["Discovery", "RuntimeHooks", "create_app", "read_discovery", "runtime_lock_held",
           "serve"]


def __getattr__(name: str) -> Any:
    if name in {"create_app", "RuntimeHooks"}:
        from . import _app

        return getattr(_app, name)
    if name == "serve":
        from ._server import serve

        return serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
