"""The register of processing (Art. 30): what the flows show, what the DPO declares, and the gap.

- ``derived(activity)``: from the linked flows' current versions — the data categories (the personal-data
  tags of their mappings), the sources and recipients (their systems) and the transfers outside the EEA
  (the systems' hosting, ``SystemPrivacy``).
- ``refresh_activity(activity)``: recomputes the entry's ``drift`` (a flow moves a category, or sends to a
  non-EEA host, the entry does not declare; a transfer without safeguard) and its ``completeness``
  (0-100 against the must and should fields). Runs when a flow gets a new version, when the entry's
  links or fields change, and when a system's privacy profile or the controller profile change
  (receivers in ``connect_signals``).
- States draft → in review → approved → archived: ``submit_activity``, ``approve_activity`` (freezes an
  ``ActivitySnapshot`` of the whole entry, derived parts included), ``archive_activity``,
  ``reopen_activity``. Editing an approved entry keeps it approved (the flows it covers keep running)
  but marks it "changed since approval" (``changed_since_approval``) until it is approved again.
- ``enable_problem``: the privacy-by-design gate installed in ``flows.privacy``.
- ``register_drift``: the alert condition that fires while an approved entry has drift.

Views, the API and the demo call these; none of them re-implements them.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gdpr.countries import adequate, in_eea
from gdpr.models import (
    ActivitySnapshot,
    ControllerProfile,
    DataCategory,
    ProcessingActivity,
    SystemPrivacy,
)
from gdpr.models.choices import SECURITY_MEASURES, ActivityState, LegalBasis, RecipientKind
from gdpr.taxonomy import ancestors_and_self, tag_categories

logger = logging.getLogger(__name__)

APPROVE_PERMISSION = "gdpr.approve_processingactivity"
MUST_WEIGHT, SHOULD_WEIGHT = 3, 1


class WorkflowError(ValueError):
    """A state change that is not allowed now (the message says why)."""


# --- derived from the flows ---------------------------------------------------------------------------


def flow_definition(flow) -> dict:
    """The flow's current version's definition; its live mappings when it has no version yet."""
    version = flow.versions.order_by("-number").first()
    if version is not None:
        return version.definition
    return {"mappings": [m.as_definition() for m in flow.mappings.all()], "_version": None}


def _privacy_of(systems) -> dict[int, SystemPrivacy]:
    return {p.system_id: p for p in SystemPrivacy.objects.filter(system__in=systems)}


def derived(activity: ProcessingActivity) -> dict:
    """What the linked flows show: ``categories``, ``sources``, ``recipients``, ``transfers``, ``flows``.

    Plain JSON (it goes into snapshots and the API): each item names the flows it comes from.
    """
    flows = list(activity.flows.select_related("source_system", "target_system").order_by("name"))
    by_tag = tag_categories()
    categories: dict[str, dict] = {}
    sources: dict[int, dict] = {}
    recipients: dict[int, dict] = {}
    systems = {}
    flow_rows = []
    for flow in flows:
        definition = flow_definition(flow)
        tags = sorted({m.get("personal") for m in definition.get("mappings") or [] if m.get("personal")})
        version = flow.versions.order_by("-number").values_list("number", flat=True).first()
        flow_rows.append({"id": flow.pk, "name": flow.name, "version": version, "tags": tags})
        for tag in tags:
            for category in by_tag.get(tag, []):
                row = categories.setdefault(
                    category.key,
                    {"key": category.key, "name": category.name, "id": category.pk, "flows": [], "tags": []},
                )
                if flow.name not in row["flows"]:
                    row["flows"].append(flow.name)
                if tag not in row["tags"]:
                    row["tags"].append(tag)
        if not tags:
            continue  # a flow without personal data adds no source, recipient or transfer
        for system, bucket in ((flow.source_system, sources), (flow.target_system, recipients)):
            systems[system.pk] = system
            row = bucket.setdefault(system.pk, {"system_id": system.pk, "name": system.name, "flows": []})
            row["flows"].append(flow.name)
    privacy = _privacy_of(list(systems))
    for row in recipients.values():
        profile = privacy.get(row["system_id"])
        if profile is not None and profile.is_processor:
            row["kind"] = RecipientKind.PROCESSOR.value
            row["vendor"] = profile.vendor
            row["processor_agreement"] = profile.processor_agreement
        else:
            row["kind"] = RecipientKind.INTERNAL.value
            row["vendor"] = profile.vendor if profile else ""
            row["processor_agreement"] = ""
        row["profile"] = profile is not None
    transfers = []
    for system_id, system in sorted(systems.items(), key=lambda item: item[1].name):
        profile = privacy.get(system_id)
        if profile is None or not profile.hosting_country or in_eea(profile.hosting_country):
            continue
        country = profile.hosting_country.upper()
        safeguard = profile.transfer_safeguard or ("adequacy" if adequate(country) else "")
        finding = ""
        if not safeguard:
            finding = _("No transfer safeguard recorded for %(system)s (hosted in %(country)s).") % {
                "system": system.name,
                "country": country,
            }
        elif safeguard in ("scc", "bcr") and not profile.safeguard_document:
            finding = _("The safeguard document of %(system)s is missing.") % {"system": system.name}
        used_by = sorted(
            set(sources.get(system_id, {}).get("flows", []) + recipients.get(system_id, {}).get("flows", []))
        )
        transfers.append(
            {
                "system_id": system_id,
                "system": system.name,
                "country": country,
                "safeguard": safeguard,
                "document": profile.safeguard_document,
                "flows": used_by,
                "finding": finding,
            }
        )
    return {
        "flows": flow_rows,
        "categories": sorted(categories.values(), key=lambda c: c["name"]),
        "sources": sorted(sources.values(), key=lambda s: s["name"]),
        "recipients": sorted(recipients.values(), key=lambda r: r["name"]),
        "transfers": transfers,
    }


def declared(activity: ProcessingActivity) -> dict:
    """The entry as the DPO wrote it (plain JSON): what an approval freezes beside the derived parts."""
    return {
        "reference": activity.reference,
        "name": activity.name,
        "description": activity.description,
        "owner": activity.owner.get_username() if activity.owner_id else "",
        "joint_controller": activity.joint_controller,
        "purposes": sorted(p.name for p in activity.purposes.all()),
        "legal_basis": activity.legal_basis,
        "legitimate_interest_assessment": activity.legitimate_interest_assessment,
        "subject_categories": sorted(s.name for s in activity.subject_categories.all()),
        "data_categories": sorted(c.key for c in activity.data_categories.all()),
        "recipients": activity.recipients,
        "transfers": activity.transfers,
        "retention": activity.retention,
        "retention_note": activity.retention_note,
        "security_measures": activity.security_measures,
        "source_of_data": activity.source_of_data,
        "dpia_required": activity.dpia_required,
        "dpia_link": activity.dpia_link,
        "review_date": activity.review_date.isoformat() if activity.review_date else None,
        "consent_field": activity.consent_field,
        "flows": sorted(f.name for f in activity.flows.all()),
    }


def controller_snapshot() -> dict:
    profile = ControllerProfile.load()
    return {
        name: getattr(profile, name)
        for name in (
            "legal_name",
            "address",
            "registration_number",
            "contact_email",
            "eu_representative",
            "dpo_name",
            "dpo_email",
            "dpo_phone",
            "dpo_address",
        )
    }


def controller_filled(profile: ControllerProfile | None = None) -> bool:
    profile = profile or ControllerProfile.load()
    return bool(
        profile.legal_name
        and profile.address
        and (profile.dpo_name or profile.dpo_email or profile.dpo_phone)
    )


# --- drift and completeness ---------------------------------------------------------------------------


def _covered_keys(activity: ProcessingActivity) -> set[str]:
    """Keys of the declared categories (a declared parent covers its children)."""
    return set(activity.data_categories.values_list("key", flat=True))


def compute_drift(activity: ProcessingActivity, facts: dict | None = None) -> list[dict]:
    """Where the flows go beyond the entry: ``[{"kind", "flow", "detail"}]``.

    - ``category``: a flow moves a personal-data kind none of whose categories (or their parents) the
      entry declares;
    - ``transfer``: a flow sends to or reads from a host outside the EEA whose country the entry does
      not declare among its transfers;
    - ``safeguard``: such a transfer has no safeguard (or its document is missing).
    """
    facts = facts if facts is not None else derived(activity)
    declared_keys = _covered_keys(activity)
    by_tag = tag_categories()
    drift = []
    for flow in facts["flows"]:
        for tag in flow["tags"]:
            categories = by_tag.get(tag, [])
            if not categories:
                continue
            if any(declared_keys & {c.key for c in ancestors_and_self(cat)} for cat in categories):
                continue
            drift.append(
                {
                    "kind": "category",
                    "flow": flow["name"],
                    "flow_id": flow["id"],
                    "tag": tag,
                    "detail": _("%(flow)s moves “%(tag)s” data (%(categories)s), not declared by this entry.")
                    % {
                        "flow": flow["name"],
                        "tag": tag,
                        "categories": ", ".join(c.name for c in categories),
                    },
                }
            )
    declared_countries = {
        str(t.get("country", "")).upper() for t in activity.transfers or [] if isinstance(t, dict)
    }
    for transfer in facts["transfers"]:
        for flow_name in transfer["flows"] or [""]:
            if transfer["country"] not in declared_countries:
                drift.append(
                    {
                        "kind": "transfer",
                        "flow": flow_name,
                        "detail": _(
                            "%(flow)s moves personal data to %(system)s, hosted in %(country)s (outside the "
                            "EEA): the entry declares no transfer to %(country)s."
                        )
                        % {"flow": flow_name, "system": transfer["system"], "country": transfer["country"]},
                    }
                )
        if transfer["finding"]:
            drift.append(
                {"kind": "safeguard", "flow": ", ".join(transfer["flows"]), "detail": transfer["finding"]}
            )
    return drift


def _sensitive(activity) -> bool:
    return any(c.sensitive for c in activity.data_categories.all())


def completeness_report(activity: ProcessingActivity, facts: dict | None = None) -> list[dict]:
    """Each must/should item: ``{"key", "label", "level": "must"|"should", "ok"}``."""
    facts = facts if facts is not None else derived(activity)
    measures = activity.security_measures or {}
    legitimate = activity.legal_basis == LegalBasis.LEGITIMATE_INTERESTS
    items = [
        ("name", gettext_lazy("Name"), "must", bool(activity.name.strip())),
        ("purposes", gettext_lazy("Purposes"), "must", activity.purposes.exists()),
        ("legal_basis", gettext_lazy("Legal basis"), "must", bool(activity.legal_basis)),
        (
            "subject_categories",
            gettext_lazy("Data-subject categories"),
            "must",
            activity.subject_categories.exists(),
        ),
        ("data_categories", gettext_lazy("Data categories"), "must", activity.data_categories.exists()),
        (
            "recipients",
            gettext_lazy("Recipients"),
            "must",
            bool(activity.recipients) or bool(facts["recipients"]),
        ),
        (
            "retention",
            gettext_lazy("Retention periods"),
            "must",
            any(str(v).strip() for v in (activity.retention or {}).values())
            or bool(activity.retention_note.strip()),
        ),
        (
            "security_measures",
            gettext_lazy("Security measures (at least one box)"),
            "must",
            any(str(measures.get(k, "")).strip() for k in SECURITY_MEASURES),
        ),
        ("controller", gettext_lazy("Controller profile (name, address, DPO)"), "must", controller_filled()),
        (
            "lia",
            gettext_lazy("Legitimate-interest assessment (legitimate interests only)"),
            "should",
            not legitimate or bool(activity.legitimate_interest_assessment),
        ),
        (
            "dpia",
            gettext_lazy("DPIA decision (a link when required or when sensitive data is processed)"),
            "should",
            bool(activity.dpia_link) or (not activity.dpia_required and not _sensitive(activity)),
        ),
        ("review_date", gettext_lazy("Next review date"), "should", activity.review_date is not None),
        ("owner", gettext_lazy("Owner"), "should", activity.owner_id is not None),
        (
            "source_of_data",
            gettext_lazy("Source of the data"),
            "should",
            bool(activity.source_of_data.strip()),
        ),
    ]
    return [{"key": k, "label": label, "level": level, "ok": ok} for k, label, level, ok in items]


def score(report: list[dict]) -> int:
    total = sum(MUST_WEIGHT if i["level"] == "must" else SHOULD_WEIGHT for i in report)
    got = sum(MUST_WEIGHT if i["level"] == "must" else SHOULD_WEIGHT for i in report if i["ok"])
    return round(100 * got / total) if total else 0


def refresh_activity(activity: ProcessingActivity) -> ProcessingActivity:
    """Recompute ``drift`` and ``completeness`` and store them (a plain update: derived state, no audit)."""
    if activity.pk is None:
        return activity
    facts = derived(activity)
    drift = compute_drift(activity, facts)
    completeness = score(completeness_report(activity, facts))
    if drift != activity.drift or completeness != activity.completeness:
        ProcessingActivity.objects.filter(pk=activity.pk).update(drift=drift, completeness=completeness)
        activity.drift, activity.completeness = drift, completeness
    return activity


def refresh_for_flows(flow_ids) -> None:
    for activity in ProcessingActivity.objects.filter(flows__in=list(flow_ids)).distinct():
        refresh_activity(activity)


def refresh_all() -> None:
    for activity in ProcessingActivity.objects.exclude(state=ActivityState.ARCHIVED):
        refresh_activity(activity)


# --- states -------------------------------------------------------------------------------------------


def next_reference() -> str:
    """``RT-001``, ``RT-002``… (register of treatments), the next free one."""
    n = ProcessingActivity.objects.count() + 1
    while ProcessingActivity.objects.filter(reference=f"RT-{n:03d}").exists():
        n += 1
    return f"RT-{n:03d}"


def missing_for_approval(activity: ProcessingActivity) -> list[str]:
    """The entry's own must fields still empty (the controller profile is the register's, not the entry's)."""
    return [
        str(item["label"])
        for item in completeness_report(activity)
        if item["level"] == "must" and not item["ok"] and item["key"] != "controller"
    ]


@transaction.atomic
def submit_activity(activity: ProcessingActivity, user=None) -> ProcessingActivity:
    """Draft → in review: the DPO (or whoever approves) is asked to look at it."""
    activity = ProcessingActivity.objects.select_for_update().get(pk=activity.pk)
    if activity.state != ActivityState.DRAFT:
        raise WorkflowError(_("Only a draft can be submitted for review."))
    activity.state = ActivityState.IN_REVIEW
    activity.save()
    return activity


@transaction.atomic
def approve_activity(activity: ProcessingActivity, user=None) -> ProcessingActivity:
    """In review (or approved and changed since) → approved, freezing a snapshot of the whole entry.

    ``user`` needs ``gdpr.approve_processingactivity``; None is the system itself (the demo). Refused
    while a must field of the entry is empty.
    """
    if user is not None and not (user.is_active and user.has_perm(APPROVE_PERMISSION)):
        raise PermissionDenied(_("You may not approve register entries."))
    activity = ProcessingActivity.objects.select_for_update().get(pk=activity.pk)
    if activity.state not in (ActivityState.IN_REVIEW, ActivityState.APPROVED):
        raise WorkflowError(_("Submit the entry for review before approving it."))
    missing = missing_for_approval(activity)
    if missing:
        raise WorkflowError(
            _("Fill these fields before approving: %(fields)s.") % {"fields": ", ".join(missing)}
        )
    refresh_activity(activity)
    now = timezone.now()
    actor = user if getattr(user, "pk", None) else None
    activity.state = ActivityState.APPROVED
    activity.approved_at, activity.approved_by = now, actor
    activity.save()
    number = (activity.snapshots.aggregate(n=Max("number"))["n"] or 0) + 1
    ActivitySnapshot.objects.create(
        activity=activity, number=number, data=snapshot_data(activity), approved_by=actor, approved_at=now
    )
    return activity


def snapshot_data(activity: ProcessingActivity) -> dict:
    return {
        "declared": declared(activity),
        "derived": derived(activity),
        "drift": activity.drift,
        "completeness": activity.completeness,
        "controller": controller_snapshot(),
    }


@transaction.atomic
def archive_activity(activity: ProcessingActivity, user=None) -> ProcessingActivity:
    """Any state → archived: the processing has ended. Its flows then need another approved entry."""
    activity = ProcessingActivity.objects.select_for_update().get(pk=activity.pk)
    if activity.state == ActivityState.ARCHIVED:
        raise WorkflowError(_("The entry is archived already."))
    activity.state = ActivityState.ARCHIVED
    activity.save()
    return activity


@transaction.atomic
def reopen_activity(activity: ProcessingActivity, user=None) -> ProcessingActivity:
    """In review or archived → draft (to rework it)."""
    activity = ProcessingActivity.objects.select_for_update().get(pk=activity.pk)
    if activity.state not in (ActivityState.IN_REVIEW, ActivityState.ARCHIVED):
        raise WorkflowError(_("Only an entry in review or archived can go back to draft."))
    activity.state = ActivityState.DRAFT
    activity.save()
    return activity


def last_snapshot(activity: ProcessingActivity) -> ActivitySnapshot | None:
    return activity.snapshots.order_by("-number").first()


def changed_since_approval(activity: ProcessingActivity) -> bool:
    """An approved entry whose declared fields differ from its last approved snapshot."""
    if activity.state != ActivityState.APPROVED:
        return False
    snapshot = last_snapshot(activity)
    return snapshot is not None and snapshot.data.get("declared") != declared(activity)


# --- the privacy-by-design gate -----------------------------------------------------------------------


def enable_problem(data: dict, flow=None) -> str | None:
    """``flows.privacy`` check: a flow mapping personal fields needs an approved register entry."""
    from flows.privacy import personal_tags

    tags = ", ".join(sorted(personal_tags(data)))
    if flow is None:
        return _(
            "This flow maps personal data (%(tags)s): save it paused, link it to a register entry and have "
            "the entry approved before enabling it (register: %(url)s)."
        ) % {"tags": tags, "url": reverse("gdpr:processingactivity_list")}
    linked = list(flow.processing_activities.order_by("reference"))
    if any(a.state == ActivityState.APPROVED for a in linked):
        return None
    pending = [a for a in linked if a.state != ActivityState.ARCHIVED]
    if pending:
        return _(
            "This flow maps personal data (%(tags)s): its register entry %(entry)s is %(state)s. Have it "
            "approved before enabling the flow: %(url)s"
        ) % {
            "tags": tags,
            "entry": pending[0],
            "state": pending[0].get_state_display(),
            "url": pending[0].get_absolute_url(),
        }
    return _(
        "This flow maps personal data (%(tags)s): link it to an approved entry of the GDPR register before "
        "enabling it: %(url)s"
    ) % {"tags": tags, "url": f"{reverse('gdpr:processingactivity_add')}?flows={flow.pk}"}


# --- the drift alert ----------------------------------------------------------------------------------


def drift_breaches(ctx) -> list:
    """``register_drift``: one breach per approved entry whose flows go beyond what it declares."""
    breaches = []
    for activity in ProcessingActivity.objects.filter(state=ActivityState.APPROVED).exclude(drift=[]):
        if not activity.drift:
            continue
        summary = _("Register entry %(entry)s differs from its flows: %(detail)s") % {
            "entry": activity,
            "detail": activity.drift[0].get("detail", ""),
        }
        if len(activity.drift) > 1:
            summary += " " + _("(+%(n)s more)") % {"n": len(activity.drift) - 1}
        breaches.append(
            (f"activity:{activity.pk}", summary, {"activity": activity.pk, "drift": len(activity.drift)})
        )
    return breaches


def install() -> None:
    """Called from ``GdprConfig.ready``: the gate, the alert condition and the refresh receivers."""
    from flows import privacy
    from monitoring import alerts

    privacy.install(enable_problem)
    alerts.register_condition(
        "register_drift",
        gettext_lazy("GDPR register differs from the flows (approved entries)"),
        drift_breaches,
        level=alerts.GLOBAL,
    )
    connect_signals()


# --- receivers ----------------------------------------------------------------------------------------


def _on_flow_version(sender, instance, created, raw=False, **kwargs):
    if raw or not created:
        return
    refresh_for_flows([instance.flow_id])


def _on_activity_save(sender, instance, raw=False, **kwargs):
    if not raw:
        refresh_activity(instance)


def _on_activity_m2m(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if isinstance(instance, ProcessingActivity):
        refresh_activity(instance)
        return
    # The reverse side (flow.processing_activities.add(…)): pk_set names the entries.
    if pk_set:
        for activity in ProcessingActivity.objects.filter(pk__in=pk_set):
            refresh_activity(activity)
    else:
        refresh_all()


def _on_system_privacy(sender, instance, raw=False, **kwargs):
    if raw:
        return
    from django.db.models import Q

    from flows.models import Flow

    flows = Flow.objects.filter(
        Q(source_system_id=instance.system_id) | Q(target_system_id=instance.system_id)
    )
    refresh_for_flows(flows.values_list("pk", flat=True))


def _on_controller(sender, instance, raw=False, **kwargs):
    if not raw:
        refresh_all()


def _on_category(sender, instance, raw=False, **kwargs):
    if not raw:
        refresh_all()


def connect_signals() -> None:
    from django.db.models.signals import m2m_changed, post_save

    from flows.models import FlowVersion

    post_save.connect(_on_flow_version, sender=FlowVersion, dispatch_uid="gdpr.register.flow_version")
    post_save.connect(_on_activity_save, sender=ProcessingActivity, dispatch_uid="gdpr.register.activity")
    for field in ("flows", "purposes", "subject_categories", "data_categories"):
        m2m_changed.connect(
            _on_activity_m2m,
            sender=getattr(ProcessingActivity, field).through,
            dispatch_uid=f"gdpr.register.m2m.{field}",
        )
    post_save.connect(_on_system_privacy, sender=SystemPrivacy, dispatch_uid="gdpr.register.system_privacy")
    post_save.connect(_on_controller, sender=ControllerProfile, dispatch_uid="gdpr.register.controller")
    post_save.connect(_on_category, sender=DataCategory, dispatch_uid="gdpr.register.category")
