"""Reaching into JSON records with dotted paths: ``data.items``, ``lines.0.sku``."""

_MISSING = object()


def get_path(value, path: str, default=None):
    """The value at ``path`` in nested dicts and lists (list items by index), or ``default``."""
    if not path:
        return value
    current = value
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            current = _MISSING
        if current is _MISSING:
            return default
    return current
