"""The connector registry: connector classes register themselves under their key at import time
(``FlowsConfig.ready()`` imports the connector modules)."""

from flows.connectors.base import Connector

_registry: dict[str, type[Connector]] = {}


def register_connector(cls: type[Connector]) -> type[Connector]:
    if not cls.key:
        raise ValueError(f"{cls.__name__} has no key")
    existing = _registry.get(cls.key)
    if existing is not None and existing is not cls:
        raise ValueError(f"connector key {cls.key!r} is taken by {existing.__name__}")
    _registry[cls.key] = cls
    return cls


def get_connector_class(key: str) -> type[Connector]:
    try:
        return _registry[key]
    except KeyError:
        raise KeyError(f"no connector {key!r}; known: {', '.join(sorted(_registry))}") from None


def connector_classes() -> list[type[Connector]]:
    return sorted(_registry.values(), key=lambda c: str(c.label).lower())


def connector_choices() -> list[tuple[str, str]]:
    return [(cls.key, str(cls.label)) for cls in connector_classes()]
