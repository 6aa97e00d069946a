"""Connectors: one module per connector, registered in ``registry`` when imported (FlowsConfig.ready)."""

CONNECTOR_MODULES = (
    "flows.connectors.rest",
    "flows.connectors.sql",
    "flows.connectors.files",
    "flows.connectors.akeneo",
    "flows.connectors.magento",
    "flows.connectors.odoo",
    "flows.connectors.hubspot",
    "flows.connectors.shopify",
    "flows.connectors.woocommerce",
)
