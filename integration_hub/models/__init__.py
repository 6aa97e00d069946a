from integration_hub.models.audit import AuditAction, AuditedModel, AuditEntry
from integration_hub.models.users import APIToken, Role

__all__ = ["APIToken", "AuditAction", "AuditEntry", "AuditedModel", "Role"]
