"""Connectors: one module per connector, registered in ``registry`` when imported (FlowsConfig.ready)."""

CONNECTOR_MODULES = ("flows.connectors.rest",)
