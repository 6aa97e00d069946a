"""Shopify Admin GraphQL (2025-10) against the ``shopify`` stand-in."""

from sandbox.credentials import ShopifyCredentials
from sandbox.seed import shared_person
from tests.contract.vendors import DATA, VendorCase, register, update_each


def set_page_size(connector, size, monkeypatch):
    monkeypatch.setattr(connector, "page_sizes", dict.fromkeys(connector.page_sizes, size))


register(
    VendorCase(
        key="shopify",
        sandbox="shopify",
        params=lambda url: {"base_url": url, "api_version": "2025-10"},
        secrets={"access_token": ShopifyCredentials().token},
        wrong_secrets={"access_token": "shpat_not_the_token"},
        read_entity="customers",
        key_path="email",
        seeded=frozenset(c["email"] for c in DATA.customers),
        set_page_size=set_page_size,
        change=update_each(lambda record, i: {"id": record["id"], "note": f"Contract {i}"}),
        # Shopify's timestamps have whole seconds: the connector searches ``updated_at:>=`` the
        # watermark, so a record changed later in the watermark's second is not lost and the records
        # stamped at the watermark are read again (the engine's change detection skips them).
        since_inclusive=True,
        write_entity="customers",
        good_records=lambda n: [
            {"email": f"contract{i}@example.org", "firstName": f"C{i}", "lastName": "Contract"}
            for i in range(n)
        ],
        bad_record={"email": "contract-at-example.org", "lastName": "Bad"},  # Shopify: Email is invalid
        subject_email=shared_person(DATA, 0),
        # Shopify Plus's cost bucket (20,000 points, 1,000 a second): reads are not slowed down by the
        # Standard plan's 100 points a second; the connector's own tests cover throttling.
        options={"bucket_max": 20000, "restore_rate": 1000},
    )
)
