"""The register's vocabulary, seeded once: data categories (a hierarchy with the CNIL groups and the
Art. 9 / Art. 10 / national-ID flags), data-subject categories, and purposes with their usual legal basis.

Each data category lists the flow designer's personal-data tags (``flows.choices.PersonalData``) that fall
in it, so a mapping tagged ``email`` is known to carry "contact" data. ``ensure_taxonomy`` is idempotent:
it creates what is missing and leaves what a DPO renamed or described as it is; it only fills the tags
of a category that has none, so the flows keep mapping to it.

Stored names are plain English (data, not interface strings); the DPO may rename them.
"""

from __future__ import annotations

from flows.choices import PersonalData

# (key, parent key, name, CNIL group, flags, personal tags, default retention)
DATA_CATEGORIES: list[dict] = [
    # Identity
    {
        "key": "identity",
        "name": "Identity",
        "group": "identity",
        "tags": ["name", "birthdate"],
        "description": "Surname, first names, title, date of birth.",
    },
    {
        "key": "customer_number",
        "parent": "identity",
        "name": "Customer number and other identifiers",
        "group": "identity",
        "tags": ["other_id"],
        "description": "Customer, account or contact numbers given by a system.",
    },
    {
        "key": "national_id",
        "parent": "identity",
        "name": "National identification number",
        "group": "national_id",
        "national_id": True,
        "tags": ["national_id"],
        "description": "Social security number, national ID card or passport number (strictly framed).",
    },
    # Contact
    {
        "key": "contact",
        "name": "Contact details",
        "group": "identity",
        "tags": [],
        "description": "How to reach the person.",
    },
    {"key": "email", "parent": "contact", "name": "E-mail address", "group": "identity", "tags": ["email"]},
    {"key": "phone", "parent": "contact", "name": "Phone number", "group": "identity", "tags": ["phone"]},
    {
        "key": "address",
        "parent": "contact",
        "name": "Postal address",
        "group": "identity",
        "tags": ["address"],
    },
    # Economic and financial
    {
        "key": "economic",
        "name": "Economic and financial information",
        "group": "economic",
        "tags": [],
        "description": "Income, means of payment, purchases.",
    },
    {
        "key": "payment",
        "parent": "economic",
        "name": "Payment data",
        "group": "economic",
        "tags": ["payment"],
        "description": "Card or bank details, payment references.",
    },
    {
        "key": "order_history",
        "parent": "economic",
        "name": "Order history",
        "group": "economic",
        "tags": [],
        "description": "Orders, amounts, invoices, returns.",
    },
    # Personal and professional life
    {
        "key": "preferences",
        "name": "Preferences and consents",
        "group": "personal_life",
        "tags": [],
        "description": "Newsletter subscription, marketing consent, interests.",
    },
    {
        "key": "professional",
        "name": "Professional life",
        "group": "professional",
        "tags": [],
        "description": "Employer, job title, professional contact (suppliers' and customers' staff).",
    },
    # Connection, location, internet
    {
        "key": "connection",
        "name": "Connection data",
        "group": "connection",
        "tags": [],
        "description": "Logs, IP addresses, timestamps of connection.",
    },
    {
        "key": "ip_address",
        "parent": "connection",
        "name": "IP address",
        "group": "connection",
        "tags": ["ip_address"],
    },
    {
        "key": "location",
        "name": "Location data",
        "group": "location",
        "tags": [],
        "description": "GPS position, travel, delivery tracking.",
    },
    {
        "key": "online_identifiers",
        "name": "Online identifiers (cookies, trackers)",
        "group": "internet",
        "tags": ["ip_address"],
        "description": "Cookie and device identifiers, browsing data.",
    },
    # Other
    {
        "key": "free_text",
        "name": "Free-text comments",
        "group": "other",
        "tags": ["free_text"],
        "description": "Notes and comments that may hold anything: keep them short-lived and reviewed.",
    },
    # Art. 9 special categories
    {
        "key": "special",
        "name": "Special categories (Art. 9)",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    {
        "key": "health",
        "parent": "special",
        "name": "Health data",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    {
        "key": "racial_ethnic",
        "parent": "special",
        "name": "Racial or ethnic origin",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    {
        "key": "political",
        "parent": "special",
        "name": "Political opinions",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    {
        "key": "religious",
        "parent": "special",
        "name": "Religious or philosophical beliefs",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    {
        "key": "trade_union",
        "parent": "special",
        "name": "Trade-union membership",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    {
        "key": "genetic_biometric",
        "parent": "special",
        "name": "Genetic and biometric data",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    {
        "key": "sex_life",
        "parent": "special",
        "name": "Sex life or sexual orientation",
        "group": "sensitive",
        "special": True,
        "tags": [],
    },
    # Art. 10
    {
        "key": "offences",
        "name": "Offences and criminal convictions (Art. 10)",
        "group": "criminal",
        "criminal": True,
        "tags": [],
    },
]

SUBJECT_CATEGORIES = [
    ("customers", "Customers", "People who bought or hold an account in the shop."),
    ("prospects", "Prospects", "People who showed interest (newsletter, quote) without buying yet."),
    ("employees", "Employees", "The merchant's staff."),
    ("supplier_contacts", "Supplier contacts", "Contact persons at suppliers and partners."),
]

# (key, name, default legal basis, description)
PURPOSES = [
    ("order_fulfilment", "Order fulfilment", "contract", "Taking, shipping and invoicing customers' orders."),
    ("invoicing", "Invoicing and accounting", "legal_obligation", "Keeping invoices and accounts (tax law)."),
    ("customer_service", "Customer service", "contract", "Answering customers and handling returns."),
    ("marketing_email", "Marketing e-mails", "consent", "Newsletters and offers sent with consent."),
    (
        "catalogue",
        "Catalogue management",
        "legitimate_interests",
        "Product data maintained by staff and suppliers (their contact persons).",
    ),
    (
        "fraud_prevention",
        "Fraud prevention",
        "legitimate_interests",
        "Checking orders and payments for fraud.",
    ),
    ("hr", "Personnel management", "legal_obligation", "Payroll and staff administration."),
]


def ensure_taxonomy(apps=None) -> dict[str, int]:
    """Create the data categories, subject categories and purposes that are missing; counts created.

    ``apps`` is a migration's app registry (historical models); the live one when None.
    """
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    DataCategory = apps.get_model("gdpr", "DataCategory")
    SubjectCategory = apps.get_model("gdpr", "SubjectCategory")
    Purpose = apps.get_model("gdpr", "Purpose")
    created = {"data_categories": 0, "subject_categories": 0, "purposes": 0}
    by_key = {c.key: c for c in DataCategory.objects.all()}
    for spec in DATA_CATEGORIES:
        existing = by_key.get(spec["key"])
        if existing is not None:
            if not existing.personal_tags and spec["tags"]:
                existing.personal_tags = list(spec["tags"])
                existing.save(update_fields=["personal_tags"])
            continue
        parent = by_key.get(spec.get("parent")) if spec.get("parent") else None
        by_key[spec["key"]] = DataCategory.objects.create(
            key=spec["key"],
            name=spec["name"],
            parent=parent,
            cnil_group=spec["group"],
            description=spec.get("description", ""),
            special=spec.get("special", False),
            criminal=spec.get("criminal", False),
            national_id=spec.get("national_id", False),
            personal_tags=list(spec["tags"]),
        )
        created["data_categories"] += 1
    for key, name, description in SUBJECT_CATEGORIES:
        _obj, made = SubjectCategory.objects.get_or_create(
            key=key, defaults={"name": name, "description": description}
        )
        created["subject_categories"] += made
    for key, name, basis, description in PURPOSES:
        _obj, made = Purpose.objects.get_or_create(
            key=key, defaults={"name": name, "default_legal_basis": basis, "description": description}
        )
        created["purposes"] += made
    return created


def tag_categories() -> dict[str, list]:
    """{personal-data tag: [DataCategory, …]} from the stored taxonomy (what the DPO may have edited)."""
    from gdpr.models import DataCategory

    mapping: dict[str, list] = {tag: [] for tag in PersonalData.values if tag}
    for category in DataCategory.objects.all():
        for tag in category.personal_tags or []:
            mapping.setdefault(tag, []).append(category)
    return mapping


def ancestors_and_self(category) -> list:
    """``category`` and its parents up to the root (a declared parent covers its children)."""
    chain, seen = [], set()
    while category is not None and category.pk not in seen:
        chain.append(category)
        seen.add(category.pk)
        category = category.parent
    return chain


def tree() -> list[tuple[int, object]]:
    """Every data category as (depth, category), parents before their children, for the taxonomy page."""
    from gdpr.models import DataCategory

    categories = list(DataCategory.objects.select_related("parent"))
    children: dict[int | None, list] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c)
    out: list[tuple[int, object]] = []

    def walk(parent_id, depth):
        for c in sorted(children.get(parent_id, []), key=lambda c: (c.cnil_group, c.name)):
            out.append((depth, c))
            if depth < 10:
                walk(c.pk, depth + 1)

    walk(None, 0)
    return out
