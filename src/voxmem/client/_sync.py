"""The blocking clients: ``VoiceClientSync`` and its ``CallerSessionSync``.

Each runs its async twin on a private loop thread (:class:`LoopThread`), and every
method is derived from the twin's (``blocking``, ``tool_on_loop``): same name, same
signature, same docstring, declared once on the async side. The pool, the launcher,
the retries and the transports exist once, in async form.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import logging
import threading
import weakref
from pathlib import Path
from typing import Any

from .._config import Settings
from ..models import DEFAULT_TENANT
from ._blocking import blocking, tool_on_loop
from ._callers import CallerMethodsSync
from ._client import (
    DEFAULT_IDLE_TTL_S,
    DEFAULT_MAX_CONCURRENT_USERS,
    DEFAULT_PORT_RANGE,
    CallerSession,
    VoiceClient,
)
from ._core import UserArg
from ._runner import LoopThread
from ._tools import ClientTools, SessionTools

__all__ = ["CallerSessionSync", "VoiceClientSync"]

log = logging.getLogger("voxmem.client")

#: How long a client left open may take to close at interpreter exit (store its
#: journal, stop its runtime connection); past it the journal keeps what was not applied.
EXIT_CLOSE_TIMEOUT_S = 30.0

_open_clients: weakref.WeakSet[VoiceClientSync] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _close_open_clients() -> None:
    for client in list(_open_clients):
        client._close_at_exit()


def _register_exit_hook() -> None:
    """Close clients left open before the interpreter shuts thread pools down.

    ``atexit`` runs too late: by then ``concurrent.futures`` has refused every new task
    (the store's writer thread, the loop's executor), so an embedded engine still
    applying its journal fails loudly. Thread-exit hooks run in reverse order of
    registration, and ``concurrent.futures.thread`` (imported above) registered its own
    first, so this one runs before it. It is CPython's own hook for this, the one
    ``concurrent.futures`` uses; there is no public equivalent.
    """
    global _exit_hook_registered
    with _exit_hook_lock:
        if not _exit_hook_registered:
            threading._register_atexit(_close_open_clients)  # type: ignore[attr-defined]
            _exit_hook_registered = True


class VoiceClientSync(CallerMethodsSync, ClientTools):
    """Blocking twin of :class:`VoiceClient`: same methods and arguments, no ``await``.

    Example::

        client = VoiceClientSync(project_id="support", agent_id="bot")
        with client.session(user={"id": "caller-42"}) as call:
            call.save_response(user_text="hi", assistant_text="hello")
        client.close()
    """

    def __init__(
        self,
        *,
        project_id: str,
        agent_id: str,
        api_key: str | None = None,
        runtime_url: str | None = None,
        embedded: bool = False,
        data_dir: str | Path | None = None,
        max_concurrent_users: int = DEFAULT_MAX_CONCURRENT_USERS,
        runtime_idle_ttl_s: float = DEFAULT_IDLE_TTL_S,
        runtime_port_range: tuple[int, int] = DEFAULT_PORT_RANGE,
        settings: Settings | dict[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> None:
        self._async = VoiceClient(
            project_id=project_id, agent_id=agent_id, api_key=api_key,
            runtime_url=runtime_url, embedded=embedded, data_dir=data_dir,
            max_concurrent_users=max_concurrent_users, runtime_idle_ttl_s=runtime_idle_ttl_s,
            runtime_port_range=runtime_port_range, settings=settings, tenant_id=tenant_id)
        self._runner = LoopThread()
        self.settings = self._async.settings
        self.project_id = project_id
        self.agent_id = agent_id
        self.tenant_id = tenant_id or DEFAULT_TENANT
        self.embedded = self._async.embedded
        self.runtime_url = self._async.runtime_url
        # A script that ends without close() must still end quietly and store what
        # its journal holds.
        _open_clients.add(self)
        _register_exit_hook()

    @property
    def pool_stats(self) -> dict[str, int]:
        """Caller handles held, busy, evicted and reaped so far."""
        return self._async.pool_stats

    search_memory = blocking(VoiceClient.search_memory)
    save_response = blocking(VoiceClient.save_response)
    preload = blocking(VoiceClient.preload)
    start_session = blocking(VoiceClient.start_session)
    end_session = blocking(VoiceClient.end_session)
    create_index = blocking(VoiceClient.create_index)
    list_indexes = blocking(VoiceClient.list_indexes)
    list_documents = blocking(VoiceClient.list_documents)
    delete_documents = blocking(VoiceClient.delete_documents)
    delete_index = blocking(VoiceClient.delete_index)
    search_index = blocking(VoiceClient.search_index)
    update_profile = blocking(VoiceClient.update_profile)
    import_history = blocking(VoiceClient.import_history)
    flush = blocking(VoiceClient.flush)

    list_memories = blocking(VoiceClient.list_memories)
    session_memories = blocking(VoiceClient.session_memories)
    delete_memory = blocking(VoiceClient.delete_memory)
    remember = blocking(VoiceClient.remember)
    recall = blocking(VoiceClient.recall)
    forget = blocking(VoiceClient.forget)
    forget_user = blocking(VoiceClient.forget_user)
    export_user = blocking(VoiceClient.export_user)
    import_user = blocking(VoiceClient.import_user)
    merge_users = blocking(VoiceClient.merge_users)
    get_memory_policy = blocking(VoiceClient.get_memory_policy)
    set_memory_policy = blocking(VoiceClient.set_memory_policy)
    list_quarantined = blocking(VoiceClient.list_quarantined)
    retry_quarantined = blocking(VoiceClient.retry_quarantined)

    search_memory_tool = tool_on_loop(VoiceClient.search_memory_tool)

    def session(self, *, user: UserArg = None, user_id: str | None = None,
                session_id: str | None = None,
                metadata: dict[str, Any] | None = None) -> CallerSessionSync:
        """``with client.session(user=...) as call:`` — one call, one caller."""
        return CallerSessionSync(self._runner, self._async.session(
            user=user, user_id=user_id, session_id=session_id, metadata=metadata))

    def close(self) -> None:
        """Release the client and its loop thread; the shared runtime keeps running."""
        if self._runner.closed:
            return
        _open_clients.discard(self)
        self._runner.run(self._async.aclose())
        self._runner.stop()

    def _close_at_exit(self) -> None:
        """``close()`` for a client the program left open, bounded in time."""
        if self._runner.closed:
            return
        try:
            self._runner.run(self._async.aclose(), timeout=EXIT_CLOSE_TIMEOUT_S)
            self._runner.stop()
        except concurrent.futures.TimeoutError:
            log.warning("a voxmem client left open did not close within %.0f s at exit; "
                        "its journal keeps what was not stored", EXIT_CLOSE_TIMEOUT_S)
        except Exception as exc:  # at exit: report, never raise into the interpreter
            log.warning("closing a voxmem client left open at exit failed: %s", exc)

    def __enter__(self) -> VoiceClientSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallerSessionSync(SessionTools):
    """Blocking twin of :class:`CallerSession`, for :class:`VoiceClientSync`.

    Example::

        with client.session(user={"id": "caller-42"}) as call:
            call.save_response(user_text="hi", assistant_text="hello")
    """

    def __init__(self, runner: LoopThread, session: CallerSession) -> None:
        self._runner = runner
        self._async = session

    @property
    def session_id(self) -> str | None:
        return self._async.session_id

    @property
    def user(self) -> dict[str, Any]:
        return self._async.user

    def __enter__(self) -> CallerSessionSync:
        self._runner.run(self._async.__aenter__())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._runner.run(self._async.__aexit__(exc_type, *exc))

    end = blocking(CallerSession.end)
    search_memory = blocking(CallerSession.search_memory)
    save_response = blocking(CallerSession.save_response)
    preload = blocking(CallerSession.preload)
    update_profile = blocking(CallerSession.update_profile)
    search_memory_tool = tool_on_loop(CallerSession.search_memory_tool)
