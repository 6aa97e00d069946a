"""Consent-gated flows: a flow linked to a register entry whose legal basis is consent (Art. 6(1)(a)) and
that names a consent field only sends the records whose consent is granted; a record sent before whose
consent was withdrawn is deleted from the target (``flows.sync``: treated like a retired record).

The rule is read live from the register when a run starts, not frozen with the flow's version: a DPO
who gates a purpose stops the next run, without a new version of every flow."""

from __future__ import annotations

from gdpr.models.choices import ActivityState, LegalBasis


def consent_field_for(flow_id: int) -> str:
    """The source path of the consent flag a flow must check, or "" when the flow is not consent-gated."""
    from gdpr.models import ProcessingActivity

    return (
        ProcessingActivity.objects.filter(flows=flow_id, legal_basis=LegalBasis.CONSENT)
        .exclude(state=ActivityState.ARCHIVED)
        .exclude(consent_field="")
        .order_by("pk")
        .values_list("consent_field", flat=True)
        .first()
        or ""
    )
