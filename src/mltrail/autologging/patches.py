"""Replacing methods and functions of other libraries, and putting the originals back.

scikit-learn exposes some methods through descriptors (``available_if``: ``Pipeline.predict``
exists only when the last step has one). Those keep their descriptor; the function inside it
is wrapped, so ``hasattr`` answers as before. Every change is recorded and
:meth:`Patches.undo` restores them in reverse order.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MISSING = object()

# (original, self, args, kwargs) -> result
MethodWrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
# (original, args, kwargs) -> result
FunctionWrapper = Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]


@dataclass
class _Change:
    owner: Any
    name: str
    previous: Any  # _MISSING: the attribute was inherited, delete ours to undo


class Patches:
    def __init__(self) -> None:
        self._changes: list[_Change] = []
        self._done: set[tuple[int, str]] = set()
        self._lock = threading.Lock()

    def method(self, cls: type, name: str, wrapper: MethodWrapper) -> bool:
        """Wrap ``cls.name`` (own or inherited); False when there is none or it is done."""
        with self._lock:
            if (id(cls), name) in self._done:
                return False
            try:
                raw = inspect.getattr_static(cls, name)
            except AttributeError:
                return False
            if inspect.isfunction(raw):
                patched = _method(raw, wrapper)
                self._set(cls, name, patched)
            elif inspect.isfunction(getattr(raw, "fn", None)) and hasattr(raw, "check"):
                # available_if descriptor: wrap the function it guards, once per descriptor.
                if (id(raw), "fn") in self._done:
                    return False
                self._set(raw, "fn", _method(raw.fn, wrapper))
                self._done.add((id(raw), "fn"))
            else:
                return False
            self._done.add((id(cls), name))
            return True

    def function(self, module: Any, name: str, wrapper: FunctionWrapper) -> bool:
        with self._lock:
            if (id(module), name) in self._done:
                return False
            original = getattr(module, name, None)
            if not callable(original):
                return False

            @functools.wraps(original)
            def patched(*args: Any, **kwargs: Any) -> Any:
                return wrapper(original, args, kwargs)

            self._set(module, name, patched)
            self._done.add((id(module), name))
            return True

    def _set(self, owner: Any, name: str, value: Any) -> None:
        own = owner.__dict__ if isinstance(owner, type) else vars(owner)
        self._changes.append(_Change(owner, name, own.get(name, _MISSING)))
        setattr(owner, name, value)

    def undo(self) -> None:
        with self._lock:
            for change in reversed(self._changes):
                if change.previous is _MISSING:
                    delattr(change.owner, change.name)
                else:
                    setattr(change.owner, change.name, change.previous)
            self._changes.clear()
            self._done.clear()


def _method(original: Callable[..., Any], wrapper: MethodWrapper) -> Callable[..., Any]:
    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(original, self, args, kwargs)

    return patched
