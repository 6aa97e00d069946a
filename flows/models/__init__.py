from flows.models.coordination import BudgetLease, BudgetState, SharedValue
from flows.models.systems import System, SystemCheck

__all__ = ["BudgetLease", "BudgetState", "SharedValue", "System", "SystemCheck"]
