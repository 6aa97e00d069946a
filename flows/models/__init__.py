from flows.models.coordination import BudgetLease, BudgetState, SharedValue
from flows.models.flows import FieldMapping, Flow, FlowVersion, ValueMap
from flows.models.health import HealthScan
from flows.models.systems import System, SystemCheck, WebhookEvent

__all__ = [
    "BudgetLease",
    "BudgetState",
    "FieldMapping",
    "Flow",
    "FlowVersion",
    "HealthScan",
    "SharedValue",
    "System",
    "SystemCheck",
    "ValueMap",
    "WebhookEvent",
]
