"""The GDPR app's fixed vocabularies (legal bases, CNIL groups, request types and states…)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class CnilGroup(models.TextChoices):
    """The CNIL register template's groups of data categories."""

    IDENTITY = "identity", _("Civil status, identity, identification data")
    PERSONAL_LIFE = "personal_life", _("Personal life (habits, family situation…)")
    PROFESSIONAL = "professional", _("Professional life (CV, education, career…)")
    ECONOMIC = "economic", _("Economic and financial information")
    CONNECTION = "connection", _("Connection data (IP addresses, logs…)")
    LOCATION = "location", _("Location data (travel, GPS data…)")
    INTERNET = "internet", _("Internet (cookies, trackers, browsing…)")
    OTHER = "other", _("Other categories")
    SENSITIVE = "sensitive", _("Sensitive data (Art. 9)")
    CRIMINAL = "criminal", _("Offences and convictions (Art. 10)")
    NATIONAL_ID = "national_id", _("National identification number")


class LegalBasis(models.TextChoices):
    CONSENT = "consent", _("Consent — Art. 6(1)(a)")
    CONTRACT = "contract", _("Contract — Art. 6(1)(b)")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation — Art. 6(1)(c)")
    VITAL_INTERESTS = "vital_interests", _("Vital interests — Art. 6(1)(d)")
    PUBLIC_TASK = "public_task", _("Public task — Art. 6(1)(e)")
    LEGITIMATE_INTERESTS = "legitimate_interests", _("Legitimate interests — Art. 6(1)(f)")


class TransferSafeguard(models.TextChoices):
    NONE = "", _("None (inside the EEA)")
    ADEQUACY = "adequacy", _("Adequacy decision — Art. 45")
    SCC = "scc", _("Standard contractual clauses — Art. 46")
    BCR = "bcr", _("Binding corporate rules — Art. 47")
    DEROGATION = "art49", _("Derogation — Art. 49")


class RecipientKind(models.TextChoices):
    INTERNAL = "internal", _("internal department")
    EXTERNAL = "external", _("external recipient")
    PROCESSOR = "processor", _("processor")


class ActivityState(models.TextChoices):
    DRAFT = "draft", _("draft")
    IN_REVIEW = "in_review", _("in review")
    APPROVED = "approved", _("approved")
    ARCHIVED = "archived", _("archived")


# The CNIL register template's seven boxes of security measures.
SECURITY_MEASURES = {
    "access_control": _("Users' access control"),
    "traceability": _("Traceability measures"),
    "software_protection": _("Software protection measures"),
    "backup": _("Data backup"),
    "encryption": _("Data encryption"),
    "processor_control": _("Contractual control of processors"),
    "other": _("Other measures"),
}


class RequestKind(models.TextChoices):
    ERASURE = "erasure", _("erasure (Art. 17)")
    ACCESS = "access", _("access and portability (Art. 15, 20)")
    RECTIFICATION = "rectification", _("rectification (Art. 16)")
    OBJECTION = "objection", _("objection (Art. 21)")


class RequestChannel(models.TextChoices):
    FORM = "form", _("public intake page")
    EMAIL = "email", _("e-mail")
    POST = "post", _("post")
    PHONE = "phone", _("phone")
    IN_PERSON = "in_person", _("in person")
    OTHER = "other", _("other")


class RequestState(models.TextChoices):
    RECEIVED = "received", _("received")
    VERIFIED = "verified", _("identity verified")
    PLANNED = "planned", _("planned")
    EXECUTING = "executing", _("executing")
    COMPLETED = "completed", _("completed")
    PARTIAL = "partial", _("partially completed")
    REFUSED = "refused", _("refused")
    ON_HOLD = "on_hold", _("on hold")
    CANCELLED = "cancelled", _("cancelled")


OPEN_REQUEST_STATES = (
    RequestState.RECEIVED,
    RequestState.VERIFIED,
    RequestState.PLANNED,
    RequestState.EXECUTING,
    RequestState.ON_HOLD,
)


class TaskAction(models.TextChoices):
    ERASE = "erase", _("erase")
    MASK = "mask", _("anonymise (mask fields)")
    EXPORT = "export", _("export")
    NOTIFY = "notify", _("notify the recipient (Art. 19)")


class Strategy(models.TextChoices):
    """How a system's records of a person are erased."""

    DELETE = "delete", _("delete the records")
    MASK = "mask", _("mask the personal fields")
    VENDOR = "vendor", _("the vendor's GDPR endpoint")
    MANUAL = "manual", _("manual task")


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    RETRYING = "retrying", _("retrying")
    NOT_FOUND = "not_found", _("skipped: not found")
    EXEMPT = "exempt", _("skipped: exempt")
    MANUAL = "manual", _("awaiting manual action")


DONE_TASK_STATUSES = (TaskStatus.SUCCEEDED, TaskStatus.NOT_FOUND, TaskStatus.EXEMPT)


class HubStore(models.TextChoices):
    """The hub's own stores of data, for retention rules."""

    RUNS = "runs", _("runs and their logs")
    FAILED_RECORDS = "failed_records", _("failed records (payloads)")
    RECORD_LINKS = "record_links", _("ID links (last values written)")
    WEBHOOK_EVENTS = "webhook_events", _("received webhook events")
    AUDIT = "audit", _("audit log")
