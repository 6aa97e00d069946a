from flows.models.coordination import BudgetLease, BudgetState, SharedValue
from flows.models.systems import System, SystemCheck, WebhookEvent

__all__ = ["BudgetLease", "BudgetState", "SharedValue", "System", "SystemCheck", "WebhookEvent"]
