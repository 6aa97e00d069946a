"""Alerting: the condition registry, rule evaluation and notification delivery (the one home).

**Conditions.** A condition is registered under a key with ``register_condition(key, label, evaluate,
params=…, level=…)``. ``evaluate(ctx)`` gets an ``EvaluationContext`` (the rule, ``now``, and the flows
and systems the rule's scope covers) and returns the list of ``(scope key, summary, details)`` that
breach the condition *now*: ``("flow:12", "Flow Orders failed 3 runs in a row", {...})``. Another app
registers its own from its ``AppConfig.ready()`` — the GDPR app will add request deadlines like so::

    from monitoring import alerts

    def overdue_requests(ctx):
        return [(f"dsr:{r.pk}", f"Request {r} is due {r.due:%Y-%m-%d}", {"request": r.pk})
                for r in DataSubjectRequest.objects.overdue(ctx.now)]

    alerts.register_condition("gdpr_request_deadline", _("GDPR request past its deadline"),
                              overdue_requests, level=alerts.GLOBAL)

**Evaluation.** ``evaluate(rule=None, scope=None, now=None)`` runs every enabled, unsnoozed rule (or
one): a breach without a firing alert opens one (the database allows one firing alert per rule and
scope key) and notifies; a still-firing alert is notified again only after the rule's cooldown; a
firing alert whose condition cleared is resolved with a "resolved" notification. Scopes whose system
is in maintenance (for a flow: its source or target) are left alone: nothing opens, nothing resolves.
It runs after every run (``scope`` = that flow: only flow-level conditions) and every minute
(``monitoring.tasks.evaluate_alerts``).

**Delivery.** Email (Django's mail, following each user's preferences), webhook (generic JSON, Slack
or Teams payloads, only to hosts ``integration_hub.outbound.url_allowed`` accepts) and in-app
``Notification`` rows with a live ``notification.new`` event to the user. A failed delivery is
recorded as an ``AlertDelivery`` and never raises. Texts are masked (``redact.mask_message``): they
leave the console, so no personal value rides along.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from flows.choices import HealthStatus
from flows.models import Flow, Run, RunStatus, System
from integration_hub import outbound, realtime
from integration_hub.redact import mask_message
from monitoring.models import Alert, AlertDelivery, AlertRule, Notification, NotificationPreference
from monitoring.models.alerts import (
    SEVERITY_RANK,
    AlertState,
    Channel,
    NotificationKind,
    ScopeKind,
    WebhookFormat,
)

logger = logging.getLogger(__name__)

NOTIFICATION_EVENT = "notification.new"
FLOW, SYSTEM, GLOBAL = "flow", "system", "global"
COUNTED_FINISHED = (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED)
PARAMS = ("threshold", "percent", "window_minutes")


def webhook_timeout() -> float:
    return float(getattr(settings, "HUB_ALERT_WEBHOOK_TIMEOUT", 5))


# --- condition registry ----------------------------------------------------------------------------


@dataclass
class EvaluationContext:
    rule: AlertRule
    now: datetime
    flows: QuerySet  # the flows the rule's scope covers (narrowed to one after a run)
    systems: QuerySet  # the systems it covers


Breach = tuple[str, str, dict]


@dataclass(frozen=True)
class Condition:
    key: str
    label: str
    evaluate: Callable[[EvaluationContext], list[Breach]]
    params: tuple[str, ...] = ()  # which of threshold / percent / window_minutes the rule must set
    level: str = FLOW  # FLOW and SYSTEM scope keys follow maintenance; FLOW ones run after each run
    help: str = ""
    defaults: dict = field(default_factory=dict)


_conditions: dict[str, Condition] = {}


def register_condition(
    key: str,
    label,
    evaluate: Callable[[EvaluationContext], list[Breach]],
    *,
    params: tuple[str, ...] = (),
    level: str = FLOW,
    help: str = "",
) -> Condition:
    """Register (or replace) the condition ``key``; ``evaluate(ctx)`` lists the breaching scopes."""
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ValueError(f"unknown condition parameters {unknown}; use {PARAMS}")
    condition = Condition(key, label, evaluate, tuple(params), level, help)
    _conditions[key] = condition
    return condition


def conditions() -> dict[str, Condition]:
    return dict(_conditions)


def get_condition(key: str) -> Condition | None:
    return _conditions.get(key)


def condition_choices() -> list[tuple[str, str]]:
    return [(c.key, c.label) for c in _conditions.values()]


def _flow_key(pk) -> str:
    return f"flow:{pk}"


def _system_key(pk) -> str:
    return f"system:{pk}"


def _last_counted_runs(flows: QuerySet, limit: int) -> dict[int, list[Run]]:
    """The ``limit`` latest finished runs of each flow that count (succeeded, partial, failed)."""
    out = {}
    for flow in flows.only("pk"):
        out[flow.pk] = list(
            Run.objects.filter(flow_id=flow.pk, status__in=COUNTED_FINISHED)
            .order_by("-finished", "-pk")
            .only("pk", "status", "message", "finished")[:limit]
        )
    return out


def _run_failed(ctx: EvaluationContext) -> list[Breach]:
    breaches = []
    names = dict(ctx.flows.values_list("pk", "name"))
    for flow_id, runs in _last_counted_runs(ctx.flows, 1).items():
        if runs and runs[0].status == RunStatus.FAILED:
            run = runs[0]
            summary = _("Flow %(flow)s: run #%(run)s failed: %(message)s") % {
                "flow": names[flow_id],
                "run": run.pk,
                "message": mask_message(run.message or "") or _("no message"),
            }
            breaches.append((_flow_key(flow_id), summary, {"flow": flow_id, "run": run.pk}))
    return breaches


def _consecutive_failures(ctx: EvaluationContext) -> list[Breach]:
    n = max(1, ctx.rule.threshold or 1)
    breaches = []
    names = dict(ctx.flows.values_list("pk", "name"))
    for flow_id, runs in _last_counted_runs(ctx.flows, n).items():
        if len(runs) == n and all(r.status == RunStatus.FAILED for r in runs):
            summary = _("Flow %(flow)s failed %(n)s runs in a row (last: %(message)s)") % {
                "flow": names[flow_id],
                "n": n,
                "message": mask_message(runs[0].message or "") or _("no message"),
            }
            breaches.append((_flow_key(flow_id), summary, {"flow": flow_id, "runs": [r.pk for r in runs]}))
    return breaches


def _error_rate(ctx: EvaluationContext) -> list[Breach]:
    """Failed records ÷ records read over the window, per flow — the dashboard's error rate
    (``monitoring.dashboard.record_error_rate``), so the alert and the chart never disagree."""
    from monitoring.dashboard import record_error_rate

    window = ctx.rule.window_minutes or 60
    percent = ctx.rule.percent if ctx.rule.percent is not None else 50.0
    since = ctx.now - timedelta(minutes=window)
    rows = (
        Run.objects.filter(
            flow__in=ctx.flows, status__in=COUNTED_FINISHED, finished__gte=since, finished__lte=ctx.now
        )
        .order_by()
        .values("flow_id", "flow__name")
        .annotate(
            read=Sum("read"),
            written=Sum(F("created") + F("updated") + F("deleted")),
            failed=Sum("failed"),
            runs=Count("pk"),
        )
    )
    breaches = []
    for row in rows:
        failed = row["failed"] or 0
        rate = record_error_rate(failed, row["read"] or 0, row["written"] or 0)
        if not failed or rate is None or rate < percent:
            continue
        base = row["read"] or (row["written"] or 0) + failed
        summary = _(
            "Flow %(flow)s: %(rate).0f %% of records failed in the last %(window)s minutes "
            "(%(failed)s of %(total)s, %(runs)s runs)"
        ) % {
            "flow": row["flow__name"],
            "rate": rate,
            "window": window,
            "failed": failed,
            "total": base,
            "runs": row["runs"],
        }
        details = {"flow": row["flow_id"], "failed": failed, "total": base, "rate": rate, "runs": row["runs"]}
        breaches.append((_flow_key(row["flow_id"]), summary, details))
    return breaches


def _freshness(ctx: EvaluationContext) -> list[Breach]:
    """Enabled flows with an SLA whose last succeeded or partial run finished longer ago than it."""
    flows = (
        ctx.flows.filter(enabled=True, freshness_sla_minutes__gt=0)
        .annotate(
            last_fresh=Max(
                "runs__finished", filter=Q(runs__status__in=(RunStatus.SUCCEEDED, RunStatus.PARTIAL))
            )
        )
        .only("pk", "name", "freshness_sla_minutes", "created")
    )
    breaches = []
    for flow in flows:
        since = flow.last_fresh or flow.created
        if since is None or ctx.now - since <= timedelta(minutes=flow.freshness_sla_minutes):
            continue
        minutes = int((ctx.now - since).total_seconds() // 60)
        summary = _("Flow %(flow)s is stale: last good run %(minutes)s minutes ago (SLA %(sla)s)") % {
            "flow": flow.name,
            "minutes": minutes,
            "sla": flow.freshness_sla_minutes,
        }
        details = {
            "flow": flow.pk,
            "last_fresh": flow.last_fresh.isoformat() if flow.last_fresh else None,
            "sla_minutes": flow.freshness_sla_minutes,
        }
        breaches.append((_flow_key(flow.pk), summary, details))
    return breaches


def _system_down(ctx: EvaluationContext) -> list[Breach]:
    breaches = []
    for system in ctx.systems.filter(enabled=True, health_status=HealthStatus.DOWN).only(
        "pk", "name", "health_message", "last_check_at"
    ):
        summary = _("System %(system)s is down: %(message)s") % {
            "system": system.name,
            "message": mask_message(system.health_message or "") or _("no message"),
        }
        details = {
            "system": system.pk,
            "last_check_at": system.last_check_at.isoformat() if system.last_check_at else None,
        }
        breaches.append((_system_key(system.pk), summary, details))
    return breaches


def queue_depth() -> int | None:
    """Tasks waiting in the django-q2 broker (None when it cannot be read)."""
    try:
        from django_q.brokers import get_broker

        return int(get_broker().queue_size())
    except Exception:
        logger.warning("alerts: broker queue size unreadable", exc_info=True)
        return None


def _queue_backlog(ctx: EvaluationContext) -> list[Breach]:
    limit = ctx.rule.threshold if ctx.rule.threshold is not None else 100
    depth = queue_depth()
    if depth is None or depth <= limit:
        return []
    summary = _("%(n)s tasks are waiting in the queue (more than %(limit)s): are the workers running?") % {
        "n": depth,
        "limit": limit,
    }
    return [("queue", summary, {"depth": depth, "limit": limit})]


register_condition("run_failed", gettext_lazy("A run failed"), _run_failed, level=FLOW)
register_condition(
    "consecutive_failures",
    gettext_lazy("N failed runs in a row"),
    _consecutive_failures,
    params=("threshold",),
    level=FLOW,
)
register_condition(
    "error_rate",
    gettext_lazy("Failed records ≥ X percent of those read, over a window"),
    _error_rate,
    params=("percent", "window_minutes"),
    level=FLOW,
)
register_condition(
    "freshness", gettext_lazy("Data older than the flow's freshness SLA"), _freshness, level=FLOW
)
register_condition("system_down", gettext_lazy("System down"), _system_down, level=SYSTEM)
register_condition(
    "queue_backlog",
    gettext_lazy("Queue backlog above N tasks"),
    _queue_backlog,
    params=("threshold",),
    level=GLOBAL,
)


# --- scope ---------------------------------------------------------------------------------------------


def rule_scope(rule: AlertRule) -> tuple[QuerySet, QuerySet]:
    """(flows, systems) a rule covers."""
    if rule.scope_kind == ScopeKind.FLOW:
        flows = Flow.objects.filter(pk=rule.flow_id)
        systems = System.objects.filter(
            pk__in=Flow.objects.filter(pk=rule.flow_id).values("source_system")
        ) | System.objects.filter(pk__in=Flow.objects.filter(pk=rule.flow_id).values("target_system"))
        return flows, systems
    if rule.scope_kind == ScopeKind.SYSTEM:
        return (
            Flow.objects.filter(Q(source_system_id=rule.system_id) | Q(target_system_id=rule.system_id)),
            System.objects.filter(pk=rule.system_id),
        )
    return Flow.objects.all(), System.objects.all()


def rules_for_flow(flow: Flow) -> QuerySet:
    """Enabled rules whose scope covers ``flow``."""
    return AlertRule.objects.filter(enabled=True).filter(
        Q(scope_kind=ScopeKind.ALL)
        | Q(scope_kind=ScopeKind.FLOW, flow_id=flow.pk)
        | Q(scope_kind=ScopeKind.SYSTEM, system_id__in=(flow.source_system_id, flow.target_system_id))
    )


def _suppressed_keys() -> set[str]:
    """Scope keys in maintenance: systems in maintenance and every flow reading or writing one."""
    down = list(System.objects.filter(maintenance=True).values_list("pk", flat=True))
    if not down:
        return set()
    keys = {_system_key(pk) for pk in down}
    flows = Flow.objects.filter(Q(source_system_id__in=down) | Q(target_system_id__in=down)).values_list(
        "pk", flat=True
    )
    keys.update(_flow_key(pk) for pk in flows)
    return keys


# Scope keys of other apps ("breach:12"): kind → model whose row ``pk`` the key names.
_scope_models: dict[str, type] = {}


def register_scope_kind(kind: str, model) -> None:
    """Let another app's conditions name their own objects as scope keys (``"<kind>:<pk>"``): alerts
    then show the object (its ``str``) and link to its page."""
    _scope_models[kind] = model


def scope_label(key: str) -> str:
    kind, _sep, pk = key.partition(":")
    model = {"flow": Flow, "system": System}.get(kind)
    if model is not None and pk.isdigit():
        obj = model.objects.filter(pk=pk).only("name").first()
        if obj is not None:
            return f"{model._meta.verbose_name.capitalize()} {obj.name}"
    if kind in _scope_models and pk.isdigit():
        obj = _scope_models[kind]._default_manager.filter(pk=pk).first()
        if obj is not None:
            return f"{str(obj._meta.verbose_name).capitalize()} {obj}"
    if key == "queue":
        return _("Task queue")
    return key


def scope_url(key: str) -> str:
    kind, _sep, pk = key.partition(":")
    model = {"flow": Flow, "system": System, **_scope_models}.get(kind)
    if model is not None and pk.isdigit():
        obj = model._default_manager.filter(pk=pk).first()
        if obj is not None:
            return obj.get_absolute_url()
    return ""


# --- evaluation ----------------------------------------------------------------------------------------


@dataclass
class EvaluationResult:
    opened: list[Alert] = field(default_factory=list)
    renotified: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)


def evaluate(rule: AlertRule | None = None, scope: Flow | str | None = None, now=None) -> EvaluationResult:
    """Evaluate ``rule`` (or every enabled rule) now; ``scope`` (a flow, or "flow:<pk>") limits the
    evaluation to the flow-level conditions of that flow, as after one of its runs."""
    now = now or timezone.now()
    result = EvaluationResult()
    flow = None
    if scope is not None:
        if isinstance(scope, str):
            kind, _sep, pk = scope.partition(":")
            flow = Flow.objects.filter(pk=pk).first() if kind == "flow" and pk.isdigit() else None
        else:
            flow = scope
        if flow is None:
            return result
    if rule is not None:
        rules = [rule] if rule.enabled else []
    elif flow is not None:
        rules = list(rules_for_flow(flow))
    else:
        rules = list(AlertRule.objects.filter(enabled=True))
        # A disabled rule watches nothing: its open alerts close, quietly (nobody asked to hear more).
        for alert in Alert.objects.filter(rule__enabled=False, state=AlertState.FIRING):
            if Alert.objects.filter(pk=alert.pk, state=AlertState.FIRING).update(
                state=AlertState.RESOLVED, resolved_at=now
            ):
                result.resolved.append(alert)
    suppressed = None
    for r in rules:
        if r.is_snoozed(now):
            continue
        condition = get_condition(r.condition)
        if condition is None:
            logger.warning("Alert rule %s: unknown condition %r", r.pk, r.condition)
            continue
        if flow is not None and condition.level != FLOW:
            continue
        flows, systems = rule_scope(r)
        if flow is not None:
            flows = flows.filter(pk=flow.pk)
        try:
            breaches = condition.evaluate(EvaluationContext(r, now, flows, systems))
        except Exception:
            logger.exception("Alert rule %s: condition %s failed", r.pk, r.condition)
            continue
        if suppressed is None:
            suppressed = _suppressed_keys()
        _apply(r, breaches, suppressed, now, result, only_key=_flow_key(flow.pk) if flow else None)
    return result


def _apply(rule, breaches, suppressed, now, result, only_key=None) -> None:
    seen = set()
    for key, summary, details in breaches:
        if key in suppressed or key in seen or (only_key and key != only_key):
            continue
        seen.add(key)
        _open_or_renotify(rule, key, str(summary)[:500], details, now, result)
    firing = rule.alerts.filter(state=AlertState.FIRING)
    if only_key:
        firing = firing.filter(scope_key=only_key)
    for alert in firing.exclude(scope_key__in=seen | suppressed):
        if resolve_alert(alert, now=now):
            result.resolved.append(alert)


def _open_or_renotify(rule, key, summary, details, now, result) -> None:
    alert = Alert.objects.filter(rule=rule, scope_key=key, state=AlertState.FIRING).first()
    if alert is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule=rule,
                    scope_key=key,
                    scope_label=scope_label(key)[:200],
                    summary=summary,
                    details=details,
                    opened_at=now,
                )
        except IntegrityError:
            return  # another evaluation opened it a moment ago: it notifies, not us
        result.opened.append(alert)
        notify(alert, NotificationKind.FIRED, now=now)
        return
    due = alert.last_notified_at is None or now - alert.last_notified_at >= timedelta(
        minutes=rule.cooldown_minutes
    )
    if not due:
        Alert.objects.filter(pk=alert.pk).update(summary=summary, details=details)
        return
    # Claim the reminder with a conditional update: two workers evaluating at once send it once.
    claimed = Alert.objects.filter(
        pk=alert.pk, state=AlertState.FIRING, last_notified_at=alert.last_notified_at
    ).update(summary=summary, details=details, last_notified_at=now)
    alert.summary, alert.details = summary, details
    if claimed:
        result.renotified.append(alert)
        notify(alert, NotificationKind.FIRED, now=now)


def resolve_alert(alert: Alert, now=None) -> bool:
    """Resolve a firing alert and send its "resolved" notification; False when already resolved."""
    now = now or timezone.now()
    if not Alert.objects.filter(pk=alert.pk, state=AlertState.FIRING).update(
        state=AlertState.RESOLVED, resolved_at=now
    ):
        return False
    alert.state, alert.resolved_at = AlertState.RESOLVED, now
    notify(alert, NotificationKind.RESOLVED, now=now)
    return True


def evaluate_after_run(run: Run) -> None:
    """Hooked after every run: the flow-level rules of the run's flow. Never raises."""
    try:
        evaluate(scope=f"flow:{run.flow_id}")
    except Exception:
        logger.exception("Alert evaluation after run %s", run.pk)


# --- snooze ---------------------------------------------------------------------------------------------


def snooze_rule(rule: AlertRule, until, user=None) -> AlertRule:
    """Silence ``rule`` until ``until`` (None: unsnooze). Firing alerts stay open, unnotified."""
    from integration_hub import audit
    from integration_hub.models import AuditAction

    before = rule.snoozed_until
    AlertRule.objects.filter(pk=rule.pk).update(snoozed_until=until)
    rule.snoozed_until = until
    if until:
        message = _("Snoozed until %(until)s") % {
            "until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
        }
    else:
        message = _("Snooze ended") if before else _("Not snoozed")
    audit.record(AuditAction.UPDATE, rule, message=message, user=user)
    return rule


# --- delivery -----------------------------------------------------------------------------------------


def _users_of(users_rel, roles_rel) -> list:
    User = get_user_model()
    return list(
        User.objects.filter(
            Q(pk__in=users_rel.values("pk")) | Q(groups__in=roles_rel.values("pk")), is_active=True
        ).distinct()
    )


def _may_see(user, key: str) -> bool:
    """Only tell a user about a flow or system they may view."""
    from integration_hub.permissions import restrict

    kind, _sep, pk = key.partition(":")
    model = {"flow": Flow, "system": System}.get(kind)
    if model is None or not pk.isdigit():
        return True
    return restrict(model.objects.filter(pk=pk), user, "view").exists()


def _wants(user, channel: str, severity: str) -> bool:
    pref = NotificationPreference.objects.filter(user=user).first()
    if pref is None:
        return True
    if channel == Channel.EMAIL and not pref.email:
        return False
    if channel == Channel.IN_APP and not pref.in_app:
        return False
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(pref.min_severity, 0)


@dataclass
class Message:
    kind: str
    rule: AlertRule
    alert: Alert | None
    title: str
    body: str
    url: str
    at: datetime


def _message(rule: AlertRule, alert: Alert | None, kind: str, now) -> Message:
    severity = rule.get_severity_display().capitalize()
    if kind == NotificationKind.TEST:
        title = _("[Test] %(rule)s") % {"rule": rule.name}
        body = _("A test notification of the alert rule “%(rule)s”: this channel works.") % {
            "rule": rule.name
        }
    elif kind == NotificationKind.RESOLVED:
        title = _("[Resolved] %(rule)s: %(scope)s") % {
            "rule": rule.name,
            "scope": alert.scope_label or alert.scope_key,
        }
        body = _("Resolved: %(summary)s") % {"summary": alert.summary}
    else:
        title = _("[%(severity)s] %(rule)s: %(scope)s") % {
            "severity": severity,
            "rule": rule.name,
            "scope": alert.scope_label or alert.scope_key,
        }
        body = alert.summary
    url = (scope_url(alert.scope_key) if alert else "") or rule.get_absolute_url()
    return Message(kind, rule, alert, title[:300], body, url, now)


def absolute(url: str) -> str:
    base = getattr(settings, "HUB_BASE_URL", "") or ""
    return base.rstrip("/") + url if base and url.startswith("/") else url


def notify(alert: Alert, kind: str, now=None) -> list[AlertDelivery]:
    """Send ``alert``'s notification (fired or resolved) on every channel of its rule."""
    now = now or timezone.now()
    rule = alert.rule
    message = _message(rule, alert, kind, now)
    deliveries = _deliver(rule, message, scope_key=alert.scope_key)
    Alert.objects.filter(pk=alert.pk).update(
        last_notified_at=now, notification_count=alert.notification_count + 1
    )
    alert.last_notified_at, alert.notification_count = now, alert.notification_count + 1
    return deliveries


def send_test(rule: AlertRule, user=None) -> list[AlertDelivery]:
    """The rule's 'Send test' button: a test message on each of its channels (in-app: its recipients,
    or the user who asked when it has none)."""
    message = _message(rule, None, NotificationKind.TEST, timezone.now())
    return _deliver(rule, message, scope_key="", fallback_user=user, ignore_prefs=True)


def _deliver(rule, message: Message, *, scope_key: str, fallback_user=None, ignore_prefs=False) -> list:
    deliveries = []
    severity = rule.severity
    for channel, sender in ((Channel.EMAIL, _send_email), (Channel.IN_APP, _send_in_app)):
        users_rel, roles_rel = (
            (rule.email_users, rule.email_roles)
            if channel == Channel.EMAIL
            else (rule.inapp_users, rule.inapp_roles)
        )
        users = _users_of(users_rel, roles_rel)
        if not users and fallback_user is not None and channel == Channel.IN_APP:
            users = [fallback_user]
        if not users:
            continue
        users = [
            u for u in users if (ignore_prefs or _wants(u, channel, severity)) and _may_see(u, scope_key)
        ]
        deliveries.append(_attempt(rule, message, channel, lambda s=sender, us=users: s(message, us)))
    if rule.webhook_url_encrypted:
        deliveries.append(
            _attempt(
                rule,
                message,
                Channel.WEBHOOK,
                lambda: _send_webhook(rule, message),
                target=webhook_target(rule),
            )
        )
    return deliveries


def _attempt(rule, message: Message, channel: str, send, target: str = "") -> AlertDelivery:
    try:
        ok, target, status = send()
    except Exception as exc:  # a broken channel is recorded, never raised into the run or the page
        logger.warning("Alert rule %s: %s delivery failed", rule.pk, channel, exc_info=True)
        ok, status = False, f"{type(exc).__name__}: {mask_message(str(exc))}"
    return AlertDelivery.objects.create(
        rule=rule,
        alert=message.alert,
        kind=message.kind,
        channel=channel,
        target=str(target)[:300],
        ok=ok,
        status=str(status)[:500],
    )


def _send_email(message: Message, users) -> tuple[bool, str, str]:
    recipients = sorted({u.email for u in users if u.email})
    if not recipients:
        return True, "", _("no recipient wants email for this alert")
    body = f"{message.body}\n\n{absolute(message.url)}\n"
    send_mail(message.title, body, None, recipients, fail_silently=False)
    n = len(recipients)
    return (
        True,
        ", ".join(recipients),
        ngettext("sent to %(n)s recipient", "sent to %(n)s recipients", n) % {"n": n},
    )


def _send_in_app(message: Message, users) -> tuple[bool, str, str]:
    created = []
    for user in users:
        note = Notification.objects.create(
            user=user,
            rule=message.rule,
            alert=message.alert,
            kind=message.kind,
            severity=message.rule.severity,
            title=message.title,
            body=message.body,
            url=message.url,
            created=message.at,
        )
        created.append(note)
        unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
        realtime.publish(
            realtime.user_group(user),
            NOTIFICATION_EVENT,
            {
                "id": note.pk,
                "kind": note.kind,
                "severity": note.severity,
                "title": note.title,
                "url": note.url,
                "created": note.created.isoformat(),
                "unread": unread,
            },
        )
    names = ", ".join(u.get_username() for u in users)
    n = len(created)
    return True, names, ngettext("%(n)s notification", "%(n)s notifications", n) % {"n": n}


def webhook_payload(rule: AlertRule, message: Message) -> dict:
    """The JSON body for the rule's webhook format."""
    alert = message.alert
    state = "test" if alert is None else alert.state
    url = absolute(message.url)
    if rule.webhook_format == WebhookFormat.SLACK:
        text = f"{message.title}\n{message.body}"
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message.body[:2900]}},
        ]
        if url:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"<{url}|{_('Open in the hub')}>"}],
                }
            )
        return {"text": text, "blocks": blocks}
    if rule.webhook_format == WebhookFormat.TEAMS:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "size": "Medium",
                    "weight": "Bolder",
                    "text": message.title,
                    "wrap": True,
                },
                {"type": "TextBlock", "text": message.body, "wrap": True},
            ],
        }
        if url:
            card["actions"] = [{"type": "Action.OpenUrl", "title": _("Open in the hub"), "url": url}]
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
    return {
        "event": f"alert.{message.kind}",
        "rule": {"id": rule.pk, "name": rule.name, "severity": rule.severity, "condition": rule.condition},
        "scope": {"key": alert.scope_key, "label": alert.scope_label} if alert else None,
        "state": state,
        "summary": message.body if alert is None else alert.summary,
        "details": alert.details if alert else {},
        "url": url,
        "at": message.at.isoformat(),
    }


def webhook_target(rule: AlertRule) -> str:
    """How a delivery names the webhook: its format and the URL's last characters, never the URL."""
    url = rule.webhook_url
    return f"{rule.get_webhook_format_display()} …{url[-4:]}" if url else ""


def _send_webhook(rule: AlertRule, message: Message) -> tuple[bool, str, str]:
    import httpx

    url = rule.webhook_url
    target = webhook_target(rule)
    if not url:
        return False, target, _("the webhook URL cannot be decrypted with the current keys")
    if not outbound.url_allowed(url):
        return False, target, _("refused: the host is not in HUB_OUTBOUND_ALLOWED_HOSTS")
    response = httpx.post(
        url,
        json=webhook_payload(rule, message),
        timeout=webhook_timeout(),
        follow_redirects=False,  # a redirect could lead past the allow-list
        headers={"User-Agent": "IntegrationHub-Alerts/1"},
    )
    ok = 200 <= response.status_code < 300
    return ok, target, f"HTTP {response.status_code}"


# --- notifications (the bell) ----------------------------------------------------------------------


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(user, ids=None) -> int:
    """Mark ``user``'s notifications read (the given ids, or all); returns how many changed."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


def preferences_for(user) -> NotificationPreference:
    pref, _created = NotificationPreference.objects.get_or_create(user=user)
    return pref
