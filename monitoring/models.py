# Error groups, alert rules and alerts arrive with the supervision issue.
