"""Run a function when a module is imported (``mltrail.autolog()`` before ``import sklearn``).

A finder at the front of ``sys.meta_path`` lets the other finders find the module, wraps
its loader so that the callback runs right after the module's code, and puts the real
loader back on the module. A callback that fails is logged; the import itself never fails.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

logger = logging.getLogger("mltrail.autolog")

Callback = Callable[[ModuleType], None]


class PostImportHook(importlib.abc.MetaPathFinder):
    def __init__(self, wanted: Callable[[str], bool], callback: Callback) -> None:
        self._wanted = wanted
        self._callback = callback

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not self._wanted(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _Loader(spec.loader, self._run)
            return spec
        return None

    def _run(self, module: ModuleType) -> None:
        try:
            self._callback(module)
        except Exception:
            logger.warning(
                "mltrail: autologging setup for %s failed", module.__name__, exc_info=True
            )

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def remove(self) -> None:
        while self in sys.meta_path:
            sys.meta_path.remove(self)


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, after: Callback) -> None:
        self._inner = inner
        self._after = after

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        module.__loader__ = self._inner
        if module.__spec__ is not None:
            module.__spec__.loader = self._inner
        self._after(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
