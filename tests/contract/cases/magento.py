"""Adobe Commerce / Magento 2.4 (admin REST) against the ``shop`` stand-in."""

from sandbox.credentials import ShopCredentials
from sandbox.seed import shared_person
from tests.contract.vendors import DATA, VendorCase, patch_constant, register, update_each

CREDS = ShopCredentials()


def product(i: int) -> dict:
    return {
        "sku": f"CONTRACT-{i}",
        "name": f"Contract product {i}",
        "price": 10 + i,
        "status": 1,
        "visibility": 4,
        "type_id": "simple",
        "attribute_set_id": 4,
    }


register(
    VendorCase(
        key="magento",
        sandbox="shop",
        params=lambda url: {"base_url": url, "username": CREDS.username},
        secrets={"password": CREDS.password},
        wrong_secrets={"password": "not-the-password"},
        read_entity="customers",  # the shop is seeded with customers and orders, no products
        key_path="email",
        seeded=frozenset(c["email"] for c in DATA.customers),
        set_page_size=patch_constant("flows.connectors.magento.PAGE_SIZE"),
        change=update_each(lambda record, i: {"id": record["id"], "lastname": f"Contract{i}"}),
        # ``updated_at gteq bound`` (``magento_since``): Magento keeps whole seconds, and a record of the
        # bound's second may be newer than the one that set it, so records stamped at the bound are read
        # again.
        since_inclusive=True,
        write_entity="products",
        good_records=lambda n: [product(i) for i in range(n)],
        bad_record={**product(99), "sku": "CONTRACT-BAD", "price": -5},  # Magento: price must be positive
        subject_email=shared_person(DATA, 0),
    )
)
