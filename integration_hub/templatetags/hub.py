from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def json_value(value):
    """Render an audit value compactly; empty values as a dash."""
    import json

    if value is None or value == "":
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@register.simple_tag
def yesno_icon(value):
    if value:
        return format_html(
            '<i class="bi bi-check-circle-fill text-success" aria-hidden="true"></i><span class="visually-hidden">{}</span>',
            _("yes"),
        )
    return format_html(
        '<i class="bi bi-x-circle text-secondary" aria-hidden="true"></i><span class="visually-hidden">{}</span>',
        _("no"),
    )


@register.filter
def json_pretty(value):
    """Indented JSON for showing a record (escaped by the template like any text)."""
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def json_compact(value):
    """One-line JSON, e.g. for a hidden form field (escaped by the template like any text)."""
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


@register.filter
def personal_label(category):
    """A personal-data category code ("email") as words for people."""
    from flows.connectors.discovery import PERSONAL_CATEGORIES

    return PERSONAL_CATEGORIES.get(category, category)


@register.filter
def failure_label(kind):
    """A connection failure kind ("dns") as words for people."""
    from flows.connectors.http import FAILURE_KINDS

    return FAILURE_KINDS.get(kind, kind)


@register.filter
def duration_short(seconds):
    """Seconds as a short duration for people: "45 s", "3 min 5 s", "2 h 10 min"."""
    from django.utils.translation import gettext as _

    try:
        seconds = max(0, int(seconds))
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)s min %(s)s s") % {"m": minutes, "s": secs}
    return _("%(s)s s") % {"s": secs}
