"""The demo's register: one approved entry per demo flow that moves personal data (order fulfilment,
customer service, marketing consent), so the privacy-by-design gate lets ``make run`` enable them.

Idempotent and cheap (``flows.demo.enable_demo_flows`` calls it on every poll): an entry is created once
(matched by its reference), a flow missing from it is linked; an entry a person moved out of "approved"
is left as it is (its flow then stays paused, with the gate's reason in the log).
"""

from __future__ import annotations

import logging

from gdpr import register
from gdpr.models import (
    ControllerProfile,
    DataCategory,
    ProcessingActivity,
    Purpose,
    SubjectCategory,
    SystemPrivacy,
)
from gdpr.models.choices import ActivityState
from gdpr.taxonomy import ensure_taxonomy

logger = logging.getLogger(__name__)

SECURITY = {
    "access_control": "Console roles (DPO, integration admin, support, viewer); personal values masked.",
    "traceability": "Audit log of every change and of every display of unmasked personal data.",
    "encryption": "TLS to every system; credentials and stored payloads encrypted at rest.",
    "backup": "Daily database backups kept 30 days.",
}

# blueprint key → the entry that covers it
DEMO_ENTRIES = {
    "orders": {
        "reference": "DEMO-ORDERS",
        "name": "Order fulfilment",
        "purpose": "order_fulfilment",
        "legal_basis": "contract",
        "subjects": ["customers"],
        "retention": {"order_history": "10 years (accounting law)", "email": "3 years after the last order"},
        "source": "The customer, when ordering in the web shop.",
    },
    "customers": {
        "reference": "DEMO-CUSTOMERS",
        "name": "Customer service",
        "purpose": "customer_service",
        "legal_basis": "contract",
        "subjects": ["customers"],
        "retention": {
            "contact": "3 years after the last contact",
            "identity": "3 years after the last contact",
        },
        "source": "The customer's shop account.",
    },
    "consent": {
        "reference": "DEMO-MARKETING",
        "name": "Marketing e-mails (consent)",
        "purpose": "marketing_email",
        "legal_basis": "consent",
        "subjects": ["customers", "prospects"],
        "retention": {"email": "3 years after the last contact, or until consent is withdrawn"},
        "source": "The person's consent recorded in the CRM.",
    },
}

DEMO_HOSTING = {  # system slug → (country, vendor, processor, safeguard)
    "shop": ("FR", "Adobe Commerce (sandbox)", True, ""),
    "erp": ("FR", "", False, ""),
    "pim": ("DE", "Akeneo (sandbox)", True, ""),
    "crm": ("US", "HubSpot (sandbox)", True, "scc"),
}


def _ensure_controller() -> None:
    profile = ControllerProfile.load()
    if profile.legal_name:
        return
    profile.legal_name = "Demo Merchant SAS"
    profile.address = "1 rue de la Démo\n75001 Paris\nFrance"
    profile.contact_email = "privacy@demo-merchant.example"
    profile.dpo_name = "Demo DPO"
    profile.dpo_email = "dpo@demo-merchant.example"
    profile.save()


def _ensure_hosting(flows) -> None:
    systems = {f.source_system for f in flows} | {f.target_system for f in flows}
    for system in systems:
        spec = DEMO_HOSTING.get(system.slug)
        if spec is None or SystemPrivacy.objects.filter(system=system).exists():
            continue
        country, vendor, processor, safeguard = spec
        SystemPrivacy.objects.create(
            system=system,
            hosting_country=country,
            vendor=vendor,
            is_processor=processor,
            transfer_safeguard=safeguard,
            safeguard_document="https://example.invalid/demo-scc.pdf" if safeguard else "",
            processor_agreement="https://example.invalid/demo-dpa.pdf" if processor else "",
        )


def ensure_demo_register(flows_by_key: dict, author=None) -> list[ProcessingActivity]:
    """Approved entries for the demo flows given as {blueprint key: flow}; the entries approved now."""
    wanted = {k: f for k, f in flows_by_key.items() if f is not None and k in DEMO_ENTRIES}
    pending = {
        k: f
        for k, f in wanted.items()
        if not f.processing_activities.filter(state=ActivityState.APPROVED).exists()
    }
    if not pending:
        return []
    ensure_taxonomy()
    _ensure_controller()
    _ensure_hosting(list(pending.values()))
    approved = []
    for key, flow in pending.items():
        spec = DEMO_ENTRIES[key]
        activity = ProcessingActivity.objects.filter(reference=spec["reference"]).first()
        if (
            activity is not None
            and activity.state != ActivityState.APPROVED
            and (activity.snapshots.exists() or activity.state == ActivityState.ARCHIVED)
        ):
            logger.warning("Demo register entry %s was changed by a person: left as it is", activity)
            continue
        if activity is None:
            activity = ProcessingActivity.objects.create(
                reference=spec["reference"],
                name=spec["name"],
                owner=author if getattr(author, "pk", None) else None,
                legal_basis=spec["legal_basis"],
                retention=spec["retention"],
                security_measures=SECURITY,
                source_of_data=spec["source"],
                description="Created with the demo: edit or archive it freely.",
            )
            activity.purposes.set(Purpose.objects.filter(key=spec["purpose"]))
            activity.subject_categories.set(SubjectCategory.objects.filter(key__in=spec["subjects"]))
        activity.flows.add(flow)
        facts = register.derived(activity)
        activity.data_categories.add(
            *DataCategory.objects.filter(key__in=[c["key"] for c in facts["categories"]])
        )
        declared = {str(t.get("country")).upper() for t in activity.transfers or []}
        new = [
            {"country": t["country"], "safeguard": t["safeguard"], "document": t["document"]}
            for t in facts["transfers"]
            if t["country"] not in declared
        ]
        if new:
            activity.transfers = [*(activity.transfers or []), *new]
            activity.save()
        if activity.state == ActivityState.DRAFT:
            activity = register.submit_activity(activity)
        try:
            approved.append(register.approve_activity(activity, None))
        except register.WorkflowError as exc:
            logger.warning("Demo register entry %s not approved: %s", activity, exc)
    return approved
