"""A connector that keeps persons in memory and speaks the GDPR contract (``find_subject``,
``erase_subject``, ``export_subject``): unit tests of the request services without HTTP."""

from __future__ import annotations

import copy

from flows.connectors.base import Connector, SubjectEntity, SubjectRecord, WriteResult
from flows.connectors.errors import TransientError
from flows.connectors.registry import _registry

# store name -> {entity: {id: record}}; a System's parameters name its store.
STORES: dict[str, dict[str, dict[str, dict]]] = {}
# store name -> how many calls still fail (a system that is down)
DOWN: dict[str, int] = {}


class FakeSubjectConnector(Connector):
    key = "gdpr-fake"
    label = "GDPR fake"
    subject_entities = (
        SubjectEntity("customers", {"email": "email", "phone": "phone"}, "delete", label="Customers"),
        SubjectEntity(
            "orders", {"email": "customer_email"}, "mask", mask={"customer_email": "", "name": "erased"}
        ),
        SubjectEntity("invoices", {"email": "email"}, "exempt", exemption="Art. 17(3)(b): tax law, 10 years"),
    )

    @property
    def store(self) -> dict:
        return STORES.setdefault(self.params["store"], {})

    def _maybe_down(self):
        name = self.params["store"]
        if DOWN.get(name, 0):
            DOWN[name] -= 1
            raise TransientError("connection refused")

    def find_subject(self, identifiers):
        self._maybe_down()
        found = []
        for declared in self.subject_entities:
            for rid, rec in self.store.get(declared.entity, {}).items():
                for kind, field in declared.identifiers.items():
                    wanted = {str(v).casefold() for v in identifiers.get(kind, [])}
                    if str(rec.get(field, "")).casefold() in wanted and wanted:
                        found.append(
                            SubjectRecord(
                                declared.entity, rid, copy.deepcopy(rec), f"{declared.entity} #{rid}"
                            )
                        )
                        break
        return found

    def erase_subject(self, entity, record_id, *, strategy, mask=None):
        self._maybe_down()
        records = self.store.get(entity, {})
        if record_id not in records:
            return WriteResult(ok=True, target_id=record_id, action="unchanged")
        if strategy == "mask":
            values = mask if mask is not None else self.subject_entity(entity).mask
            if all(records[record_id].get(k) == v for k, v in values.items()):
                return WriteResult(ok=True, target_id=record_id, action="unchanged")
            records[record_id].update(values)
            return WriteResult(ok=True, target_id=record_id, action="masked")
        del records[record_id]
        return WriteResult(ok=True, target_id=record_id, action="erased")

    def export_subject(self, entity, record_id):
        return copy.deepcopy(self.store[entity][record_id])


_registry.setdefault(FakeSubjectConnector.key, FakeSubjectConnector)
