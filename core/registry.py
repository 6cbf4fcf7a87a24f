"""The one rule of every registry of kinds: a class registers under its declared name, once."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def register(registry: dict[str, type[T]], cls: type[T], attribute: str, noun: str) -> None:
    """Add ``cls`` under the string it declares as ``attribute``; refuse a missing or taken one.

    Used by ``__init_subclass__`` of ``Monitor`` (``kind``) and ``Notifier`` (``channel``).
    """
    name = cls.__dict__.get(attribute)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} must declare a non-empty class attribute '{attribute}'")
    if name in registry:
        raise TypeError(f"{noun} {name!r} is already registered by {registry[name].__name__}")
    registry[name] = cls
