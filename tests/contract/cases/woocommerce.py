"""WooCommerce REST API v3 against the ``woo`` stand-in."""

from sandbox.credentials import WooCredentials
from sandbox.woo import N_CUSTOMERS
from tests.contract.vendors import DATA, VendorCase, register, set_attributes, update_each

CREDS = WooCredentials()
# The stand-in holds the dataset's first N_CUSTOMERS customers and their orders.
BUYER = next(DATA.customers[o["customer"]]["email"] for o in DATA.orders if o["customer"] < N_CUSTOMERS)


def product(i: int) -> dict:
    return {
        "sku": f"CONTRACT-{i}",
        "name": f"Contract product {i}",
        "type": "simple",
        "regular_price": f"{10 + i}.00",
    }


register(
    VendorCase(
        key="woocommerce",
        sandbox="woo",
        params=lambda url: {"base_url": url},
        secrets={"consumer_key": CREDS.key, "consumer_secret": CREDS.secret},
        wrong_secrets={"consumer_secret": "cs_not_the_secret"},
        # Customers: WooCommerce has no date filter on them, so the incremental check covers the
        # connector's own filtering of date_modified_gmt (products and orders use modified_after).
        read_entity="customers",
        key_path="email",
        seeded=frozenset(c["email"] for c in DATA.customers[:N_CUSTOMERS]),
        set_page_size=set_attributes("page_size"),
        change=update_each(lambda record, i: {"id": record["id"], "first_name": f"Contract{i}"}),
        # WordPress keeps whole seconds and ``modified_after`` is strict (WP_Date_Query ``after``): the
        # connector asks from the start of the watermark's second (``woo_since``), so the records
        # stamped at the watermark are read again.
        since_inclusive=True,
        write_entity="products",
        good_records=lambda n: [product(i) for i in range(n)],
        bad_record={**product(99), "sku": "CONTRACT-BAD", "type": "bundle"},  # not a WooCommerce product type
        subject_email=BUYER,
    )
)
