"""State that several worker processes must share, in one place: a system's request budget (rate and
concurrency, enforced across processes), shared values (OAuth token caches) and short locks.

Database rows on the embedded default; Redis when ``REDIS_URL`` is set. Never a per-process cache:
two workers calling the same shop must see one budget.
"""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction

from flows.connectors.errors import TransientError
from integration_hub import crypto

# A lease outlives the request it covers by this much; a dead process's leases expire on their own.
LEASE_MARGIN = 30.0
_CONCURRENCY_POLL = 0.02


class Budget:
    """Rate (requests/s) and concurrency limits of one system."""

    def __init__(
        self, system_id: int, rate: float | None, concurrency: int | None, lease_seconds: float = 60.0
    ):
        self.system_id = system_id
        self.rate = rate if rate and rate > 0 else None
        self.concurrency = concurrency if concurrency and concurrency > 0 else None
        self.lease_seconds = lease_seconds + LEASE_MARGIN
        # No burst: requests are spaced 1/rate apart, so no one-second window holds more than
        # rate + 1 of them (a vendor's "N per second" usually means exactly that).
        self.burst = 1.0

    @property
    def unlimited(self) -> bool:
        return self.rate is None and self.concurrency is None

    @contextmanager
    def slot(self, timeout: float = 300.0):
        """Wait for the right to send one request, hold it while the request runs."""
        if self.unlimited:
            yield
            return
        backend = _backend()
        deadline = time.monotonic() + timeout
        while True:
            lease, wait = backend.try_acquire(self)
            if lease is not None:
                break
            if time.monotonic() + wait > deadline:
                raise TransientError(
                    f"The request budget of system {self.system_id} stayed full for {timeout:.0f} s.",
                    reason="budget",
                )
            time.sleep(wait)
        try:
            yield
        finally:
            backend.release(self, lease)


def get_shared(key: str) -> str | None:
    """A value another process stored with ``set_shared`` (decrypted), or None once expired."""
    return _backend().get(key)


def set_shared(key: str, value: str, ttl: float) -> None:
    _backend().set(key, value, ttl)


def delete_shared(key: str) -> None:
    _backend().delete(key)


def rotate_shared_values() -> int:
    """Re-encrypt the shared values with the newest key (Redis; the database rows are rotated with the
    other tables). Unreadable values are dropped: they are caches and will be fetched again."""
    return _backend().rotate_all()


@contextmanager
def lock(name: str, ttl: float = 30.0, wait: float = 30.0):
    """A cross-process lock (e.g. one OAuth refresh at a time). Expires after ``ttl`` if its holder dies."""
    backend = _backend()
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not backend.try_lock(name, token, ttl):
        if time.monotonic() > deadline:
            raise TransientError(f"lock {name!r} still held after {wait:.0f}s", reason="budget")
        time.sleep(0.05)
    try:
        yield
    finally:
        backend.unlock(name, token)


def in_flight(system_ids) -> dict[int, int]:
    """Requests holding one of each system's concurrency slots now (the dashboard's request-budget
    use); systems with none are left out. Only systems with a concurrency limit hold slots."""
    ids = list(system_ids)
    if not ids:
        return {}
    backend = _backend()
    now = time.time()
    if isinstance(backend, RedisBackend):
        pipe = backend.client.pipeline()
        for pk in ids:
            pipe.zcount(backend._keys(Budget(pk, None, None))[1], now, "+inf")
        return {pk: int(n) for pk, n in zip(ids, pipe.execute(), strict=True) if n}
    from django.db.models import Count

    from flows.models import BudgetLease

    rows = (
        BudgetLease.objects.filter(system_id__in=ids, expires__gte=now)
        .values("system_id")
        .annotate(n=Count("pk"))
        .values_list("system_id", "n")
    )
    return dict(rows)


@cache
def _redis_backend(url: str):
    return RedisBackend(url)


def _backend():
    if settings.REDIS_URL:
        return _redis_backend(settings.REDIS_URL)
    return DatabaseBackend()


class DatabaseBackend:
    """Budget and shared values in database rows. On SQLite the IMMEDIATE transaction serialises
    writers; on PostgreSQL ``select_for_update`` locks the system's bucket row."""

    def try_acquire(self, budget: Budget) -> tuple[int | None, float]:
        from flows.models import BudgetLease, BudgetState

        now = time.time()
        with transaction.atomic():
            state = BudgetState.objects.select_for_update().filter(system_id=budget.system_id).first()
            if state is None:
                try:
                    with transaction.atomic():
                        state = BudgetState.objects.create(
                            system_id=budget.system_id, tokens=budget.burst, updated=now
                        )
                except IntegrityError:
                    state = BudgetState.objects.select_for_update().get(system_id=budget.system_id)
            if budget.concurrency is not None:
                BudgetLease.objects.filter(system_id=budget.system_id, expires__lt=now).delete()
                if BudgetLease.objects.filter(system_id=budget.system_id).count() >= budget.concurrency:
                    return None, _CONCURRENCY_POLL
            if budget.rate is not None:
                tokens = min(budget.burst, state.tokens + (now - state.updated) * budget.rate)
                if tokens < 1:
                    return None, (1 - tokens) / budget.rate
                state.tokens, state.updated = tokens - 1, now
                state.save(update_fields=["tokens", "updated"])
            if budget.concurrency is None:
                return 0, 0.0  # nothing to hold: the rate alone was the limit
            lease = BudgetLease.objects.create(system_id=budget.system_id, expires=now + budget.lease_seconds)
            return lease.pk, 0.0

    def release(self, budget: Budget, lease) -> None:
        from flows.models import BudgetLease

        if lease:
            BudgetLease.objects.filter(pk=lease).delete()

    def get(self, key: str) -> str | None:
        from flows.models import SharedValue

        row = SharedValue.objects.filter(key=key, expires__gt=time.time()).first()
        if row is None:
            return None
        try:
            return crypto.decrypt(row.value)
        except crypto.DecryptionError:
            return None  # encrypted with a key no longer configured: a cache miss, fetched again

    def set(self, key: str, value: str, ttl: float) -> None:
        from flows.models import SharedValue

        SharedValue.objects.update_or_create(
            key=key, defaults={"value": crypto.encrypt(value), "expires": time.time() + ttl}
        )

    def delete(self, key: str) -> None:
        from flows.models import SharedValue

        SharedValue.objects.filter(key=key).delete()

    def rotate_all(self) -> int:
        return 0  # the rows are re-encrypted by rotate_encryption_keys with the other tables

    def try_lock(self, name: str, token: str, ttl: float) -> bool:
        from flows.models import SharedValue

        key, now = f"lock:{name}", time.time()
        with transaction.atomic():
            SharedValue.objects.filter(key=key, expires__lt=now).delete()
            try:
                with transaction.atomic():
                    SharedValue.objects.create(key=key, value=token, expires=now + ttl)
                return True
            except IntegrityError:
                return False

    def unlock(self, name: str, token: str) -> None:
        from flows.models import SharedValue

        SharedValue.objects.filter(key=f"lock:{name}", value=token).delete()


# Atomic token bucket + lease set, on Redis's own clock (one clock for every machine).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, conc, lease_s = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= conc then return {0, 20} end
end
if rate > 0 then
  local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or burst)
  local updated = tonumber(redis.call('HGET', KEYS[1], 'u') or now)
  tokens = math.min(burst, tokens + (now - updated) * rate)
  if tokens < 1 then return {0, math.ceil((1 - tokens) / rate * 1000)} end
  redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'u', tostring(now))
  redis.call('EXPIRE', KEYS[1], 3600)
end
redis.call('ZADD', KEYS[2], now + lease_s, ARGV[5])
redis.call('EXPIRE', KEYS[2], 3600)
return {1, 0}
"""


class RedisBackend:
    def __init__(self, url: str):
        import redis

        self.client = redis.from_url(url)
        self.prefix = f"{settings.NAMESPACE}:coord"
        self.acquire_script = self.client.register_script(_ACQUIRE)

    def _keys(self, budget: Budget):
        base = f"{self.prefix}:budget:{budget.system_id}"
        return [f"{base}:bucket", f"{base}:leases"]

    def try_acquire(self, budget: Budget):
        lease = uuid.uuid4().hex
        granted, wait_ms = self.acquire_script(
            keys=self._keys(budget),
            args=[budget.rate or 0, budget.burst, budget.concurrency or 0, budget.lease_seconds, lease],
        )
        return (lease, 0.0) if granted else (None, int(wait_ms) / 1000)

    def release(self, budget: Budget, lease) -> None:
        self.client.zrem(self._keys(budget)[1], lease)

    def get(self, key: str) -> str | None:
        raw = self.client.get(f"{self.prefix}:value:{key}")
        if not raw:
            return None
        try:
            return crypto.decrypt(raw.decode())
        except crypto.DecryptionError:
            return None  # encrypted with a key no longer configured: a cache miss, fetched again

    def set(self, key: str, value: str, ttl: float) -> None:
        self.client.set(f"{self.prefix}:value:{key}", crypto.encrypt(value), px=max(1, int(ttl * 1000)))

    def delete(self, key: str) -> None:
        self.client.delete(f"{self.prefix}:value:{key}")

    def rotate_all(self) -> int:
        count = 0
        for key in self.client.scan_iter(match=f"{self.prefix}:value:*"):
            raw, ttl = self.client.get(key), self.client.pttl(key)
            if not raw:
                continue
            try:
                value = crypto.rotate(raw.decode())
            except crypto.DecryptionError:
                self.client.delete(key)
                continue
            self.client.set(key, value, px=ttl if ttl and ttl > 0 else None)
            count += 1
        return count

    def try_lock(self, name: str, token: str, ttl: float) -> bool:
        return bool(self.client.set(f"{self.prefix}:lock:{name}", token, nx=True, px=int(ttl * 1000)))

    def unlock(self, name: str, token: str) -> None:
        key = f"{self.prefix}:lock:{name}"
        # Only the holder releases (compare and delete in one step).
        self.client.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            1,
            key,
            token,
        )
