"""Entities described as JSON in a system's form (REST, SQL and Files connectors): the checks every
such list shares, and turning one definition into an ``Entity``."""

from collections.abc import Callable

from django.utils.translation import gettext as _

from flows.connectors.base import Capability, Entity


def entity_list_problem(value, check_one: Callable[[str, dict], str]) -> str:
    """The first problem of an entities list, in words; empty when it is usable.

    Checks what every connector needs (a non-empty JSON list of objects with distinct keys, names as
    text), then calls ``check_one(where, definition)`` for the connector's own rules.
    """
    if not isinstance(value, list) or not value:
        return _("Give a JSON list with at least one entity.")
    keys = set()
    for index, d in enumerate(value, start=1):
        where = _("Entity %(n)s") % {"n": index}
        if not isinstance(d, dict):
            return _("%(where)s is not a JSON object.") % {"where": where}
        key = d.get("key")
        if not isinstance(key, str) or not key.strip():
            return _('%(where)s needs a “key” (e.g. "products").') % {"where": where}
        if key in keys:
            return _("%(where)s repeats the key “%(key)s”.") % {"where": where, "key": key}
        keys.add(key)
        where = _("Entity “%(key)s”") % {"key": key}
        for name in ("id_field", "cursor_field", "label", "reference_field"):
            if d.get(name) is not None and not isinstance(d[name], str):
                return _("%(where)s: “%(name)s” must be text.") % {"where": where, "name": name}
        natural = d.get("natural_keys")
        if natural is not None and not (
            isinstance(natural, list) and all(isinstance(k, str) for k in natural)
        ):
            return _("%(where)s: “natural_keys” must be a list of field names.") % {"where": where}
        problem = check_one(where, d)
        if problem:
            return problem
    return ""


def entity_from_definition(d: dict, capabilities: set[Capability]) -> Entity:
    return Entity(
        key=d["key"],
        label=d.get("label") or d["key"],
        id_field=d.get("id_field") or "id",
        cursor_field=d.get("cursor_field") or "",
        natural_keys=tuple(d.get("natural_keys") or ()),
        reference_field=d.get("reference_field") or "",
        capabilities=frozenset(capabilities),
    )
