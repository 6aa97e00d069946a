"""Odoo 17 (external JSON-RPC API) against the ``erp`` stand-in (``odoo_json2.py``: the same preset
through Odoo 19's JSON-2 API)."""

from sandbox.credentials import ErpCredentials
from sandbox.seed import shared_person
from tests.contract.vendors import DATA, VendorCase, register, set_parameter, update_each

CREDS = ErpCredentials()


CASE = register(
    VendorCase(
        key="odoo",
        sandbox="erp",
        params=lambda url: {"base_url": url, "database": CREDS.db, "login": CREDS.login},
        secrets={"password": CREDS.password},
        wrong_secrets={"password": "not-the-api-key"},
        read_entity="partners",
        key_path="email",
        seeded=frozenset(c["email"] for c in DATA.customers),
        set_page_size=set_parameter("page_size"),
        change=update_each(lambda record, i: {"id": record["id"], "phone": f"+33 1 00 00 00 0{i}"}),
        # ``write_date >= bound``: Odoo keeps whole seconds, and a record of the bound's second may be
        # newer than the one that set it, so records stamped at the bound are read again.
        since_inclusive=True,
        write_entity="products",
        good_records=lambda n: [
            {"name": f"Contract product {i}", "default_code": f"CONTRACT-{i}", "list_price": 10 + i}
            for i in range(n)
        ],
        bad_record={"default_code": "CONTRACT-BAD"},  # no name: Odoo's "mandatory field is not set"
        subject_email=shared_person(DATA, 0),
    )
)
