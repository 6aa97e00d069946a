"""Fixtures of the bad-input corpus: two REST systems that are never called (a flow's definition is
checked without any request), an integration admin in the console and with a write-enabled token."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from flows.models import FieldMapping, Flow, FlowVersion, System, ValueMap
from integration_hub import services
from integration_hub.roles import INTEGRATION_ADMIN
from tests.factories import SystemFactory, UserFactory


def base_flow(**overrides) -> dict:
    """A definition that saves as it is; the corpus spoils one part of it at a time."""
    data = {
        "name": "Items",
        "source_system": "src",
        "source_entity": "items",
        "target_system": "tgt",
        "target_entity": "items",
        "trigger": "manual",
        "criticality": "normal",
        "sync_mode": "full",
        "match_strategy": "natural_key",
        "source_key": "sku",
        "target_key": "sku",
        "write_mode": "upsert",
        "enabled": False,
        "filters": [],
        "quality_rules": [],
        "mappings": [
            {"target": "sku", "source": "sku", "transforms": [], "personal": ""},
            {"target": "name", "source": "name", "transforms": [{"op": "trim"}], "personal": ""},
        ],
    }
    data.update(overrides)
    return data


def snapshot() -> dict:
    """Row counts of everything a bad input could half-write."""
    from flows.models import FailedRecord, Run, WebhookEvent
    from integration_hub.models import AuditEntry

    return {
        "systems": System.objects.count(),
        "flows": Flow.objects.count(),
        "mappings": FieldMapping.objects.count(),
        "versions": FlowVersion.objects.count(),
        "value_maps": ValueMap.objects.count(),
        "runs": Run.objects.count(),
        "failed": FailedRecord.objects.count(),
        "webhook_events": WebhookEvent.objects.count(),
        "config_changes": AuditEntry.objects.filter(
            action__in=["create", "update", "delete", "import"]
        ).count(),
    }


@pytest.fixture
def systems(db):
    return {"src": SystemFactory(slug="src", name="Source"), "tgt": SystemFactory(slug="tgt", name="Target")}


@pytest.fixture
def admin(db):
    return UserFactory(roles=[INTEGRATION_ADMIN])


@pytest.fixture
def console(admin):
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def api(admin):
    _token, key = services.create_api_token(admin, name="corpus", write_enabled=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


class MemoryPeak:
    """How much the process's resident memory grew at most while the block ran (sampled every 5 ms
    from /proc; much cheaper than tracemalloc on 100 000 records)."""

    def __enter__(self):
        import os
        import threading

        self._page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.start
