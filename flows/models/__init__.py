from flows.models.coordination import BudgetLease, BudgetState, SharedValue
from flows.models.flows import FieldMapping, Flow, FlowVersion, ValueMap
from flows.models.health import HealthScan
from flows.models.runs import FailedRecord, RecordLink, Run, RunLogLine, RunStatus, RunTrigger
from flows.models.systems import System, SystemCheck, WebhookEvent

__all__ = [
    "BudgetLease",
    "BudgetState",
    "FailedRecord",
    "FieldMapping",
    "Flow",
    "FlowVersion",
    "HealthScan",
    "RecordLink",
    "Run",
    "RunLogLine",
    "RunStatus",
    "RunTrigger",
    "SharedValue",
    "System",
    "SystemCheck",
    "ValueMap",
    "WebhookEvent",
]
