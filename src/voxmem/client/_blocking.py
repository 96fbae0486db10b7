"""Sync methods derived from async ones, so each client method is declared once.

``VoiceClientSync.search_memory = blocking(VoiceClient.search_memory)``: the sync
method has the async one's signature (for ``inspect``, IDEs and mypy, through a
``ParamSpec``) and docstring, and runs it on the sync object's loop thread.
``tool_on_loop`` does the same for a method that builds an LLM tool: the tool's
searches run on the loop thread, so any event loop can await them. A class using
either holds its async twin in ``self._async`` and its :class:`LoopThread` in
``self._runner``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from ._tools import MemoryTool

__all__ = ["blocking", "tool_on_loop"]

P = ParamSpec("P")
R = TypeVar("R")


class _Derived(Generic[P, R]):
    """A method of the sync class built from ``method`` of the async class."""

    def __init__(self, method: Callable[..., Any],
                 run: Callable[[Any, Callable[..., Any], tuple[Any, ...], dict[str, Any]],
                               Any]) -> None:
        name = method.__name__

        def derived(self: Any, *args: Any, **kwargs: Any) -> Any:
            return run(self, getattr(self._async, name), args, kwargs)

        derived.__name__ = name
        derived.__qualname__ = method.__qualname__
        derived.__doc__ = method.__doc__
        derived.__module__ = method.__module__
        # The async signature, return annotation included: the result is the same
        # object, only not awaited (or, for a tool, searching on the loop thread).
        derived.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
        self._fn = derived

    def __set_name__(self, owner: type, name: str) -> None:
        self._fn.__qualname__ = f"{owner.__qualname__}.{name}"

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[Concatenate[Any, P], R]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> Callable[P, R]: ...

    def __get__(self, obj: object | None, owner: type) -> Callable[..., R]:
        if obj is None:
            fn: Callable[..., R] = self._fn
            return fn
        bound: Callable[..., R] = self._fn.__get__(obj, owner)
        return bound


def _block(sync: Any, method: Callable[..., Any], args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> Any:
    return sync._runner.run(method(*args, **kwargs))


def _hop(sync: Any, method: Callable[..., Any], args: tuple[Any, ...],
         kwargs: dict[str, Any]) -> Any:
    return sync._runner.hop_tool(method(*args, **kwargs))


def blocking(method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> _Derived[P, R]:
    """The blocking twin of ``method`` (an ``async def`` of the async class)."""
    return _Derived(method, _block)


def tool_on_loop(method: Callable[Concatenate[Any, P], MemoryTool]) -> _Derived[P, MemoryTool]:
    """The twin of a tool-building method whose tool searches on the loop thread."""
    return _Derived(method, _hop)
