"""The breach register (Art. 33/34): the one home of every change to a breach, its 72-hour clock, the
data categories the register says the affected systems hold, and the "breach not notified" alert.

Views, the API and the alert condition all call these functions; none re-implements them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gdpr.models import Breach, DataCategory, ProcessingActivity
from gdpr.models.breaches import NOTIFY_AUTHORITY_WITHIN
from gdpr.models.choices import ActivityState

# The alert fires this long before the authority deadline (and keeps firing once it is past).
WARN_BEFORE = timedelta(hours=24)
ALERT_CONDITION = "gdpr_breach_not_notified"


# --- the 72-hour clock ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Where a breach stands against the authority deadline, computed server-side."""

    state: str  # notified, notified_late, not_notifying, closed, overdue, due_soon, running
    deadline: datetime
    seconds_left: int  # negative once the deadline has passed
    css: str  # Bootstrap colour: success, warning, danger, secondary, info
    label: str
    ticking: bool  # still counting (the page refreshes it without a reload)

    @property
    def hours_left(self) -> float:
        return round(self.seconds_left / 3600, 1)


def _duration(seconds: int) -> str:
    seconds = abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    return _("%(h)s h %(m)02d min") % {"h": hours, "m": rest // 60}


def clock(breach: Breach, now: datetime | None = None) -> Clock:
    """The authority-notification clock of ``breach`` at ``now`` (Art. 33(1): 72 hours after awareness)."""
    now = now or timezone.now()
    deadline = breach.authority_deadline
    left = int((deadline - now).total_seconds())
    if breach.authority_notified_at is not None:
        if breach.authority_notified_at > deadline:
            late = int((breach.authority_notified_at - deadline).total_seconds())
            return Clock(
                "notified_late",
                deadline,
                left,
                "warning",
                _("Authority notified %(d)s after the deadline") % {"d": _duration(late)},
                False,
            )
        return Clock("notified", deadline, left, "success", _("Authority notified in time"), False)
    if breach.not_notified_reason:
        return Clock("not_notifying", deadline, left, "secondary", _("Not notified (reason recorded)"), False)
    if breach.closed_at is not None:
        return Clock("closed", deadline, left, "secondary", _("Closed without notification"), False)
    if left < 0:
        return Clock(
            "overdue", deadline, left, "danger", _("Overdue by %(d)s") % {"d": _duration(left)}, True
        )
    if left <= WARN_BEFORE.total_seconds():
        return Clock("due_soon", deadline, left, "warning", _("%(d)s left") % {"d": _duration(left)}, True)
    return Clock("running", deadline, left, "info", _("%(d)s left") % {"d": _duration(left)}, True)


def persons_reminder(breach: Breach) -> bool:
    """Art. 34: a high-risk breach must be told to the persons (unless a recorded reason says why not)."""
    return (
        breach.risk == Breach.Risk.HIGH
        and breach.persons_notified_at is None
        and not breach.not_notified_reason
    )


def awaiting_notification(now: datetime | None = None, within: timedelta = WARN_BEFORE) -> QuerySet:
    """Open breaches not notified to the authority whose deadline is within ``within`` or past."""
    now = now or timezone.now()
    return Breach.objects.filter(
        authority_notified_at__isnull=True,
        not_notified_reason="",
        closed_at__isnull=True,
        aware_at__lte=now + within - NOTIFY_AUTHORITY_WITHIN,
    ).order_by("aware_at")


# --- validation shared by the form and the API -----------------------------------------------------------


def notification_errors(
    *, aware_at, authority_notified_at, late_reason: str, persons_notified_at=None, occurred_at=None
) -> dict[str, str]:
    """The breach's date rules, as {field: message}: a notification after 72 h needs its reasons
    (Art. 33(1)); nothing is notified before the controller became aware; nothing is aware before it
    happened."""
    errors = {}
    if aware_at is None:
        return errors
    if occurred_at is not None and occurred_at > aware_at:
        errors["occurred_at"] = _("The breach cannot have happened after you became aware of it.")
    if authority_notified_at is not None:
        if authority_notified_at < aware_at:
            errors["authority_notified_at"] = _("The authority cannot be notified before you became aware.")
        elif authority_notified_at > aware_at + NOTIFY_AUTHORITY_WITHIN and not (late_reason or "").strip():
            errors["late_reason"] = _(
                "Notified more than 72 hours after you became aware: give the reasons for the delay "
                "(Art. 33(1))."
            )
    if persons_notified_at is not None and persons_notified_at < aware_at:
        errors["persons_notified_at"] = _("The persons cannot be notified before you became aware.")
    return errors


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError({k: [v] for k, v in errors.items()})


# --- register prefill ------------------------------------------------------------------------------------


def categories_for_systems(systems) -> QuerySet:
    """The data categories the register says the ``systems`` hold: those of the approved processing
    activities linked to a flow reading from or writing to one of them."""
    ids = [getattr(s, "pk", s) for s in systems]
    if not ids:
        return DataCategory.objects.none()
    activities = ProcessingActivity.objects.filter(
        Q(flows__source_system__in=ids) | Q(flows__target_system__in=ids), state=ActivityState.APPROVED
    )
    return DataCategory.objects.filter(activities__in=activities).distinct().order_by("cnil_group", "name")


# --- changes ---------------------------------------------------------------------------------------------


def next_reference(now: datetime | None = None) -> str:
    """``BR-2026-007``: the year's next number."""
    year = timezone.localtime(now or timezone.now()).year
    prefix = f"BR-{year}-"
    taken = set(Breach.objects.filter(reference__startswith=prefix).values_list("reference", flat=True))
    n = len(taken) + 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


def save_breach(breach: Breach, *, user=None, m2m: dict | None = None) -> Breach:
    """Create or update ``breach`` (already carrying the new values), checking its date rules;
    ``m2m`` sets the many-to-many fields ({"systems": [...], ...})."""
    _raise(
        notification_errors(
            aware_at=breach.aware_at,
            occurred_at=breach.occurred_at,
            authority_notified_at=breach.authority_notified_at,
            late_reason=breach.late_reason,
            persons_notified_at=breach.persons_notified_at,
        )
    )
    with transaction.atomic():
        if breach.pk is None:
            if not breach.reference:
                breach.reference = next_reference()
            if user is not None and getattr(user, "is_authenticated", False):
                breach.created_by = user
        breach.save()
        for name, values in (m2m or {}).items():
            getattr(breach, name).set(values)
    return breach


def notify_authority(
    breach: Breach, *, at: datetime | None = None, reference: str = "", late_reason: str = "", user=None
) -> Breach:
    """Record that the supervisory authority was notified (Art. 33): when, its reference, and the
    reasons when it was after 72 hours."""
    breach.authority_notified_at = at or timezone.now()
    if reference:
        breach.authority_reference = reference
    if late_reason:
        breach.late_reason = late_reason
    return save_breach(breach, user=user)


def notify_persons(breach: Breach, *, at: datetime | None = None, user=None) -> Breach:
    """Record that the persons affected were told (Art. 34)."""
    breach.persons_notified_at = at or timezone.now()
    return save_breach(breach, user=user)


# --- alerting --------------------------------------------------------------------------------------------


def _not_notified(ctx) -> list[tuple[str, str, dict]]:
    found = []
    for breach in awaiting_notification(ctx.now):
        state = clock(breach, ctx.now)
        summary = _("Breach %(ref)s is not notified to the authority: %(clock)s (deadline %(deadline)s)") % {
            "ref": breach.reference,
            "clock": state.label,
            "deadline": timezone.localtime(state.deadline).strftime("%Y-%m-%d %H:%M"),
        }
        found.append(
            (
                f"breach:{breach.pk}",
                summary,
                {
                    "breach": breach.pk,
                    "deadline": state.deadline.isoformat(),
                    "overdue": state.seconds_left < 0,
                },
            )
        )
    return found


def register_alert_condition() -> None:
    """Add "breach not notified" to monitoring's condition registry (called from ``GdprConfig.ready``)."""
    from monitoring import alerts

    alerts.register_scope_kind("breach", Breach)
    alerts.register_condition(
        ALERT_CONDITION,
        gettext_lazy("Personal-data breach not notified (72-hour deadline within 24 h or past)"),
        _not_notified,
        level=alerts.GLOBAL,
        help=gettext_lazy(
            "Fires for each breach the authority has not been told about when its 72-hour deadline is "
            "less than 24 hours away or already past."
        ),
    )
