"""Name -> backend class registries (flow, inference, sources) with a capability report.

A backend registers under a short lower-case name. Its optional dependency is imported inside its
own module; a backend whose import fails stays listed and reports that error when chosen.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sofp.runtime.errors import UsageError

T = TypeVar("T")
C = TypeVar("C", bound="type[Any]")  # a registered class keeps its own type (its constructor, its probe)


@dataclass(frozen=True)
class Capability:
    """Whether a registered backend can run here, and why not when it cannot."""

    name: str
    available: bool
    reason: str = ""


class Registry(Generic[T]):
    """A family of backends keyed by name; entries are lazily imported ``module:Class`` paths.

    ``probe`` on the class (a classmethod returning ``(ok, reason)``) tells whether its
    dependencies are present on this machine, without allocating anything.
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._paths: dict[str, str] = {}
        self._classes: dict[str, type] = {}  # loaded or registered; load() gives them as type[T]

    def add(self, name: str, path: str) -> None:
        """Register ``name`` -> ``"package.module:ClassName"`` (imported only when used)."""
        self._paths[name] = path

    def register(self, name: str) -> Callable[[C], C]:
        """Class decorator registering an already-imported class."""

        def wrap(cls: C) -> C:
            self._classes[name] = cls
            self._paths.setdefault(name, f"{cls.__module__}:{cls.__qualname__}")
            return cls

        return wrap

    def names(self) -> list[str]:
        return sorted(self._paths)

    def load(self, name: str) -> type[T]:
        """The class for ``name``; an unknown name or a missing dependency raises one line."""
        if name not in self._paths:
            raise UsageError(f"unknown {self.family} {name!r}; known: {', '.join(self.names())}")
        if name not in self._classes:
            module, _, attr = self._paths[name].partition(":")
            try:
                self._classes[name] = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                raise UsageError(f"{self.family} {name!r} cannot run here: {exc}") from None
        return self._classes[name]

    def create(self, name_or_obj: str | T, *args: Any, **kwargs: Any) -> T:
        """Build a backend by name, or pass a ready object through (tests pass fakes)."""
        if not isinstance(name_or_obj, str):
            return name_or_obj
        cls = self.load(name_or_obj)
        probe = getattr(cls, "probe", None)
        if probe is not None:
            ok, reason = probe()
            if not ok:
                raise UsageError(f"{self.family} {name_or_obj!r} cannot run here: {reason}")
        return cls(*args, **kwargs)

    def capabilities(self) -> list[Capability]:
        """One :class:`Capability` per registered name, for the start-up report."""
        out = []
        for name in self.names():
            try:
                cls = self.load(name)
            except UsageError as exc:
                out.append(Capability(name, False, str(exc).split(": ", 1)[-1]))
                continue
            probe = getattr(cls, "probe", None)
            ok, reason = probe() if probe is not None else (True, "")
            out.append(Capability(name, ok, reason))
        return out
