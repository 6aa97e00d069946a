"""The register as rows with every Art. 30(1) column: the CSV export and the printable CNIL sheets read
these, so both say the same thing."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gdpr import register
from gdpr.models import DataCategory
from gdpr.models.choices import SECURITY_MEASURES, RecipientKind, TransferSafeguard

# (key, header): the Art. 30(1) points (a)-(g), then the register's own columns.
ART30_COLUMNS = [
    ("reference", _("Reference")),
    ("name", _("Processing activity")),
    ("controller", _("Controller")),  # (a)
    ("representative", _("EU representative")),  # (a)
    ("joint_controller", _("Joint controller")),  # (a)
    ("dpo", _("DPO")),  # (a)
    ("purposes", _("Purposes")),  # (b)
    ("legal_basis", _("Legal basis")),
    ("lia", _("Legitimate-interest assessment")),
    ("subject_categories", _("Data-subject categories")),  # (c)
    ("data_categories", _("Data categories")),  # (c)
    ("sensitive_data", _("Sensitive data (Art. 9, Art. 10, national ID)")),
    ("recipients", _("Recipients")),  # (d)
    ("transfers", _("Transfers outside the EEA and safeguards")),  # (e)
    ("retention", _("Retention periods")),  # (f)
    ("security_measures", _("Security measures")),  # (g)
    ("source_of_data", _("Source of the data")),
    ("dpia", _("DPIA")),
    ("owner", _("Owner")),
    ("review_date", _("Next review")),
    ("flows", _("Flows")),
    ("state", _("State")),
    ("approved", _("Approved")),
    ("completeness", _("Completeness (%)")),
    ("drift", _("Drift")),
]


def _controller_text(profile: dict) -> str:
    parts = [profile["legal_name"], profile["address"].replace("\n", ", "), profile["registration_number"]]
    parts.append(profile["contact_email"])
    return " — ".join(p for p in parts if p)


def _dpo_text(profile: dict) -> str:
    parts = [
        profile["dpo_name"],
        profile["dpo_email"],
        profile["dpo_phone"],
        profile["dpo_address"].replace("\n", ", "),
    ]
    return " — ".join(p for p in parts if p)


def activity_row(activity, controller: dict | None = None, facts: dict | None = None) -> dict:
    """One register entry as {column key: text}; declared and derived parts merged and labelled."""
    controller = controller if controller is not None else register.controller_snapshot()
    facts = facts if facts is not None else register.derived(activity)
    kinds = dict(RecipientKind.choices)
    safeguards = dict(TransferSafeguard.choices)
    categories = list(activity.data_categories.all())
    names = {c.key: c.name for c in DataCategory.objects.all()}
    recipients = [
        f"{r.get('name')} ({kinds.get(r.get('kind'), r.get('kind') or '?')})"
        for r in activity.recipients or []
    ]
    declared_names = {r.get("name") for r in activity.recipients or []}
    for r in facts["recipients"]:
        if r["name"] not in declared_names:
            vendor = f", {r['vendor']}" if r.get("vendor") else ""
            recipients.append(
                f"{r['name']} ({kinds.get(r['kind'], r['kind'])}{vendor}) [{_('from the flows')}]"
            )
    transfers = [
        f"{t.get('country')}: {safeguards.get(t.get('safeguard') or '', t.get('safeguard'))}"
        + (f" ({t.get('document')})" if t.get("document") else "")
        for t in activity.transfers or []
    ]
    declared_countries = {str(t.get("country", "")).upper() for t in activity.transfers or []}
    for t in facts["transfers"]:
        if t["country"] not in declared_countries:
            transfers.append(
                f"{t['system']} {t['country']}: {safeguards.get(t['safeguard'], t['safeguard']) or '—'} [{_('from the flows')}]"
            )
    retention = [f"{names.get(k, k)}: {v}" for k, v in (activity.retention or {}).items()]
    if activity.retention_note:
        retention.append(activity.retention_note)
    measures = activity.security_measures or {}
    security = [f"{SECURITY_MEASURES[k]}: {measures[k]}" for k in SECURITY_MEASURES if measures.get(k)]
    derived_only = [c["name"] for c in facts["categories"] if c["key"] not in {x.key for x in categories}]
    data_categories = [c.name for c in categories] + [f"{n} [{_('from the flows')}]" for n in derived_only]
    dpia = _("required") if activity.dpia_required else _("not required")
    if activity.dpia_link:
        dpia = f"{dpia}: {activity.dpia_link}"
    return {
        "reference": activity.reference,
        "name": activity.name,
        "controller": _controller_text(controller),
        "representative": controller["eu_representative"],
        "joint_controller": activity.joint_controller,
        "dpo": _dpo_text(controller),
        "purposes": "; ".join(p.name for p in activity.purposes.all()),
        "legal_basis": activity.get_legal_basis_display() if activity.legal_basis else "",
        "lia": activity.legitimate_interest_assessment,
        "subject_categories": "; ".join(s.name for s in activity.subject_categories.all()),
        "data_categories": "; ".join(data_categories),
        "sensitive_data": "; ".join(c.name for c in categories if c.sensitive),
        "recipients": "; ".join(recipients),
        "transfers": "; ".join(transfers),
        "retention": "; ".join(retention),
        "security_measures": "; ".join(security),
        "source_of_data": activity.source_of_data,
        "dpia": str(dpia),
        "owner": activity.owner.get_username() if activity.owner_id else "",
        "review_date": activity.review_date.isoformat() if activity.review_date else "",
        "flows": "; ".join(f["name"] for f in facts["flows"]),
        "state": activity.get_state_display(),
        "approved": activity.approved_at.strftime("%Y-%m-%d %H:%M") if activity.approved_at else "",
        "completeness": str(activity.completeness),
        "drift": "; ".join(d.get("detail", "") for d in activity.drift or []),
    }


def register_rows(activities) -> list[dict]:
    controller = register.controller_snapshot()
    return [activity_row(a, controller) for a in activities]
