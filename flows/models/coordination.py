"""Rows through which worker processes share state on the embedded default (no Redis): request budgets
and shared values such as OAuth tokens. With ``REDIS_URL`` set, ``flows.coordination`` uses Redis and
these tables stay empty."""

from django.db import models


class BudgetState(models.Model):
    """The token bucket of one system's request rate, shared by every process."""

    system_id = models.BigIntegerField(unique=True)
    tokens = models.FloatField(default=0)
    updated = models.FloatField(default=0)  # epoch seconds of the last refill

    def __str__(self):
        return f"budget of system {self.system_id}"


class BudgetLease(models.Model):
    """One request in flight against a system; expires if its process dies without releasing it."""

    system_id = models.BigIntegerField(db_index=True)
    expires = models.FloatField(db_index=True)

    def __str__(self):
        return f"lease {self.pk} on system {self.system_id}"


class SharedValue(models.Model):
    """A small encrypted value shared by processes until it expires (an OAuth token, a lock)."""

    key = models.CharField(max_length=200, unique=True)
    value = models.TextField(blank=True)
    expires = models.FloatField(db_index=True)

    def __str__(self):
        return self.key
