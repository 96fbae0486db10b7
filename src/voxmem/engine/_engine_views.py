"""The engine's operator views (dashboard, CLI, admin routes): thin calls to the console
and the org knowledge, kept apart from ``_engine`` for size. A mixin of
:class:`~voxmem.engine.MemoryEngine`, which builds the parts named below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import Scope
from ..store import Store
from ._console import Console
from ._org_knowledge import OrgKnowledge

__all__ = ["OperatorViews"]


class OperatorViews:
    """Reads and removals for operators: projects, callers, calls, org indexes, health."""

    # MemoryEngine builds these; declared here only for their types.
    store: Store
    console: Console
    org: OrgKnowledge

    async def list_projects(self) -> list[tuple[str, str]]:
        """Every (tenant, project) the store holds anything for."""
        return await self.store.list_projects()

    async def find_callers(self, tenant_id: str, project_id: str, query: str,
                           limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Callers matching an id, name, identifier or text, most relevant first; without
        a query, the most recently active, ``offset`` paging through them."""
        return await self.console.find_callers(tenant_id, project_id, query, limit, offset)

    async def caller_page(self, scope: Scope, limit: int) -> dict[str, Any] | None:
        """One caller's page for the dashboard; None when there is no such caller."""
        return await self.console.caller(scope, limit)

    async def list_calls(self, tenant_id: str, project_id: str, user_id: str | None,
                         limit: int) -> list[dict[str, Any]]:
        """The project's calls, newest first."""
        return await self.console.calls(tenant_id, project_id, user_id, limit)

    async def call_page(self, tenant_id: str, project_id: str,
                        session_id: str) -> dict[str, Any]:
        """One call with its turns and the recalls that served each."""
        return await self.console.call(tenant_id, project_id, session_id)

    async def index_documents(self, tenant_id: str, project_id: str,
                              name: str) -> dict[str, Any]:
        """One org index and its documents."""
        return await self.console.documents(tenant_id, project_id, name)

    async def delete_documents(self, tenant_id: str, project_id: str, index_name: str,
                               doc_ids: Sequence[str]) -> dict[str, Any] | None:
        """Remove documents from an org index; None when the index does not exist."""
        return await self.org.delete_documents(tenant_id, project_id, index_name, doc_ids)

    async def delete_index(self, tenant_id: str, project_id: str,
                           index_name: str) -> dict[str, Any] | None:
        """Remove an org index; None when it does not exist."""
        return await self.org.delete_index(tenant_id, project_id, index_name)

    async def search_index(self, tenant_id: str, project_id: str, index_name: str | None,
                           query: str, k: int) -> list[dict[str, Any]]:
        """The chunks recall's org lane would return, from one index or all."""
        return await self.org.search_index(tenant_id, project_id, index_name, query, k)

    async def runtime_health(self, tenant_id: str, project_id: str) -> dict[str, Any]:
        """Journal, learning and recall latency of the runtime, for one project."""
        return await self.console.health(tenant_id, project_id)
