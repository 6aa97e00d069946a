"""Deterministic seed data shared by the four stand-ins.

One merchant's data, generated once per seed (cached) with Faker (``fr_FR`` and ``en_GB``) and a
``random.Random`` seeded alike: products with French and English texts, warehouses and stock,
customers (generated people: not real persons; emails on the reserved ``example.*`` domains) and
orders. Every system module turns it into its own vendor's records, so the same SKUs and the same
customer emails appear across systems as they would at a real merchant.

Nothing here reads the clock: all dates are fixed in 2025, so a seed gives identical data every
time (for one Faker version).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from faker import Faker

from .store import Store, format_stamp

N_PRODUCTS = 2000
N_CUSTOMERS = 500
N_ORDERS = 300
N_CRM_CONTACTS = 400

EPOCH = datetime(2025, 1, 6, 8, 0, 0, tzinfo=UTC)  # the sandbox's data starts here
SEED_HORIZON = datetime(2025, 11, 30, tzinfo=UTC)  # and every seeded date is before this

# family code, sku prefix, labels (fr, en), nouns (fr, en), price range, weight range (kg)
FAMILIES: list[tuple[str, str, str, str, list[tuple[str, str]], tuple[float, float], tuple[float, float]]] = [
    (
        "chairs",
        "CHR",
        "Assises",
        "Seating",
        [("Chaise", "chair"), ("Fauteuil", "armchair"), ("Tabouret", "stool")],
        (39, 690),
        (2.5, 18),
    ),
    (
        "tables",
        "TBL",
        "Tables",
        "Tables",
        [("Table", "table"), ("Bureau", "desk"), ("Console", "console table")],
        (89, 1490),
        (8, 65),
    ),
    (
        "lighting",
        "LGT",
        "Luminaires",
        "Lighting",
        [("Lampe", "lamp"), ("Suspension", "pendant light"), ("Applique", "wall light")],
        (25, 420),
        (0.4, 6),
    ),
    (
        "textiles",
        "TXT",
        "Textiles",
        "Textiles",
        [("Coussin", "cushion"), ("Plaid", "throw"), ("Rideau", "curtain")],
        (15, 160),
        (0.2, 2.5),
    ),
    (
        "rugs",
        "RUG",
        "Tapis",
        "Rugs",
        [("Tapis", "rug"), ("Tapis de couloir", "runner rug")],
        (49, 890),
        (1.5, 22),
    ),
    (
        "storage",
        "STO",
        "Rangements",
        "Storage",
        [("Étagère", "shelf"), ("Commode", "chest of drawers"), ("Buffet", "sideboard")],
        (69, 1290),
        (5, 80),
    ),
    (
        "kitchen",
        "KIT",
        "Cuisine",
        "Kitchen",
        [
            ("Saladier", "salad bowl"),
            ("Théière", "teapot"),
            ("Planche à découper", "chopping board"),
            ("Carafe", "carafe"),
        ],
        (9, 120),
        (0.2, 2.5),
    ),
    (
        "decor",
        "DEC",
        "Décoration",
        "Decor",
        [("Vase", "vase"), ("Miroir", "mirror"), ("Cadre", "frame"), ("Bougeoir", "candle holder")],
        (12, 340),
        (0.2, 9),
    ),
]
MATERIALS = [
    ("chêne", "oak"), ("noyer", "walnut"), ("hêtre", "beech"), ("métal", "metal"), ("rotin", "rattan"),
    ("lin", "linen"), ("coton", "cotton"), ("laine", "wool"), ("verre", "glass"), ("céramique", "ceramic"),
    ("marbre", "marble"), ("bambou", "bamboo"),
]  # fmt: skip
COLORS = [
    ("blanc", "white"), ("noir", "black"), ("gris", "grey"), ("bleu nuit", "navy"), ("vert sauge", "sage green"),
    ("terracotta", "terracotta"), ("moutarde", "mustard"), ("naturel", "natural"),
]  # fmt: skip
COLLECTIONS = [
    "Alma", "Brume", "Cèdre", "Dune", "Écume", "Flore", "Galet", "Havre", "Iris", "Jade", "Kaolin", "Lune",
    "Mistral", "Nacre", "Opale", "Pampa", "Quai", "Rivage", "Sable", "Tilleul", "Ubac", "Vigne", "Yuzu", "Zéphyr",
]  # fmt: skip
BENEFITS = [
    ("Conçu dans notre atelier et fabriqué en petite série.", "Designed in our studio and made in small batches."),
    ("Des lignes sobres qui trouvent leur place dans toutes les pièces.", "Clean lines that fit in every room."),
    ("Finitions soignées, matériaux choisis pour durer.", "Careful finishing and materials chosen to last."),
    ("Un classique revisité, à la fois pratique et chaleureux.", "A revisited classic, practical and warm."),
    ("Livré monté, prêt à l'emploi.", "Delivered assembled, ready to use."),
    ("Fabriqué en Europe à partir de matériaux certifiés.", "Made in Europe from certified materials."),
]  # fmt: skip
CARE = [
    ("Nettoyer avec un chiffon doux et sec.", "Clean with a soft dry cloth."),
    ("Éviter l'exposition prolongée au soleil.", "Avoid prolonged exposure to sunlight."),
    ("Lavable en machine à 30 °C.", "Machine washable at 30 °C."),
    ("Ne pas utiliser de produits abrasifs.", "Do not use abrasive cleaners."),
]  # fmt: skip
WAREHOUSES = [
    {"code": "PAR", "name": "Entrepôt Paris Nord", "city": "Saint-Ouen", "source_code": "paris"},
    {"code": "LYO", "name": "Entrepôt Lyon Sud", "city": "Vénissieux", "source_code": "lyon"},
    {"code": "LIL", "name": "Entrepôt Lille", "city": "Lesquin", "source_code": "lille"},
]
COUNTRIES = {"FR": ("France", "France"), "GB": ("Royaume-Uni", "United Kingdom")}
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]
ORDER_STATUSES = [("complete", 50), ("processing", 25), ("pending", 15), ("canceled", 10)]


@dataclass(frozen=True)
class Dataset:
    seed: int
    families: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    warehouses: list[dict[str, Any]]
    products: list[dict[str, Any]]
    stock: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    crm_customers: list[int]  # indexes into customers: the ones the CRM knows

    def product_by_sku(self) -> dict[str, dict[str, Any]]:
        return {p["sku"]: p for p in self.products}


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in text.lower() if c.isalnum() or c in "-") or "x"


def _ean13(rng: random.Random, used: set[str]) -> str:
    while True:
        body = "376" + f"{rng.randrange(10**9):09d}"
        total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
        code = body + str((10 - total % 10) % 10)
        if code not in used:
            used.add(code)
            return code


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(span))


def _price(rng: random.Random, low: float, high: float) -> float:
    value = rng.uniform(low, high)
    return round(int(value) + rng.choice([0.0, 0.5, 0.9, 0.99]), 2)


@lru_cache(maxsize=4)
def dataset(seed: int = 42) -> Dataset:
    """The merchant's data for ``seed`` (cached: treat it as read-only)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not crypto
    fake_fr = Faker("fr_FR")
    fake_en = Faker("en_GB")
    fake_fr.seed_instance(seed)
    fake_en.seed_instance(seed + 1)

    categories = [
        {
            "code": "master",
            "parent": None,
            "labels": {"fr_FR": "Catalogue principal", "en_US": "Master catalog"},
        }
    ]
    categories.append(
        {"code": "promotions", "parent": "master", "labels": {"fr_FR": "Promotions", "en_US": "Promotions"}}
    )
    families = []
    for code, _prefix, fr, en, _nouns, _p, _w in FAMILIES:
        categories.append(
            {"code": f"master_{code}", "parent": "master", "labels": {"fr_FR": fr, "en_US": en}}
        )
        families.append({"code": code, "labels": {"fr_FR": fr, "en_US": en}})

    products = []
    used_eans: set[str] = set()
    per_family = N_PRODUCTS // len(FAMILIES)
    number = 10000
    for f_index, (code, prefix, _fr, _en, nouns, price_range, weight_range) in enumerate(FAMILIES):
        count = per_family if f_index < len(FAMILIES) - 1 else N_PRODUCTS - per_family * (len(FAMILIES) - 1)
        for _ in range(count):
            number += 1
            noun_fr, noun_en = rng.choice(nouns)
            material_fr, material_en = rng.choice(MATERIALS)
            color_fr, color_en = rng.choice(COLORS)
            collection = rng.choice(COLLECTIONS)
            benefit_fr, benefit_en = rng.choice(BENEFITS)
            care_fr, care_en = rng.choice(CARE)
            created = _moment(rng, EPOCH, EPOCH + timedelta(days=200))
            updated = _moment(rng, created, SEED_HORIZON - timedelta(days=1))
            cats = [f"master_{code}"] + (["promotions"] if rng.random() < 0.1 else [])
            products.append(
                {
                    "sku": f"{prefix}-{number}",
                    "family": code,
                    "categories": cats,
                    "enabled": rng.random() < 0.95,
                    "name_fr": f"{noun_fr} {collection} en {material_fr}, {color_fr}",
                    "name_en": f"{collection} {material_en} {noun_en}, {color_en}",
                    "description_fr": f"{noun_fr} de la collection {collection}, en {material_fr} coloris {color_fr}. {benefit_fr} {care_fr}",
                    "description_en": f"{noun_en.capitalize()} from the {collection} collection in {color_en} {material_en}. {benefit_en} {care_en}",
                    "material": material_en,
                    "color": color_en,
                    "price": _price(rng, *price_range),
                    "weight": round(rng.uniform(*weight_range), 3),
                    "ean": _ean13(rng, used_eans),
                    "created": created,
                    "updated": updated,
                }
            )

    stock = []
    for p in products:
        for w_index, wh in enumerate(WAREHOUSES):
            if w_index == 0 or rng.random() < (0.7 if w_index == 1 else 0.5):
                qty = 0 if rng.random() < 0.08 else rng.randrange(1, 250)
                moment = _moment(rng, p["created"], SEED_HORIZON - timedelta(hours=1))
                stock.append(
                    {"sku": p["sku"], "warehouse": wh["code"], "quantity": float(qty), "updated": moment}
                )

    customers = []
    used_emails: set[str] = set()
    for index in range(N_CUSTOMERS):
        country = "FR" if rng.random() < 0.65 else "GB"
        fake = fake_fr if country == "FR" else fake_en
        female = rng.random() < 0.5
        first = fake.first_name_female() if female else fake.first_name_male()
        last = fake.last_name()
        local = f"{_slug(first)}.{_slug(last)}"
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
        n = 2
        while email in used_emails:
            email = f"{local}{n}@{email.split('@')[1]}"
            n += 1
        used_emails.add(email)
        created = _moment(rng, EPOCH - timedelta(days=700), EPOCH + timedelta(days=250))
        updated = _moment(rng, max(created, EPOCH), SEED_HORIZON - timedelta(days=1))
        customers.append(
            {
                "index": index,
                "firstname": first,
                "lastname": last,
                "gender": 2 if female else 1,
                "email": email,
                "phone": fake.phone_number(),
                "street": fake.street_address().replace("\n", ", "),
                "city": fake.city(),
                "postcode": fake.postcode(),
                "country": country,
                "locale": "fr_FR" if country == "FR" else "en_GB",
                "birthdate": (date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 60))).isoformat(),
                "created": created,
                "updated": updated,
            }
        )

    enabled = [p for p in products if p["enabled"]]
    statuses = [s for s, weight in ORDER_STATUSES for _ in range(weight)]
    orders = []
    for number in range(1, N_ORDERS + 1):
        customer = customers[rng.randrange(N_CUSTOMERS)]
        lines = []
        for p in rng.sample(enabled, rng.randint(1, 4)):
            qty = rng.randint(1, 4)
            lines.append(
                {
                    "sku": p["sku"],
                    "name": p["name_fr"],
                    "qty": qty,
                    "price": p["price"],
                    "row_total": round(qty * p["price"], 2),
                }
            )
        subtotal = round(sum(line["row_total"] for line in lines), 2)
        shipping = 0.0 if subtotal >= 150 else 9.9
        tax = round(subtotal * 0.2, 2)
        created = _moment(rng, max(customer["created"], EPOCH), SEED_HORIZON - timedelta(days=3))
        orders.append(
            {
                "number": number,
                "increment_id": f"{number:09d}",
                "customer": customer["index"],
                "email": customer["email"],
                "lines": lines,
                "subtotal": subtotal,
                "shipping": shipping,
                "tax": tax,
                "total": round(subtotal + tax + shipping, 2),
                "status": rng.choice(statuses),
                "created": created,
                "updated": created + timedelta(seconds=rng.randrange(3 * 86400)),
            }
        )

    crm = sorted(rng.sample(range(N_CUSTOMERS), N_CRM_CONTACTS))
    return Dataset(
        seed=seed,
        families=families,
        categories=categories,
        warehouses=[dict(w) for w in WAREHOUSES],
        products=products,
        stock=stock,
        customers=customers,
        orders=orders,
        crm_customers=crm,
    )


def shared_people(data: Dataset) -> list[dict[str, Any]]:
    """The customers held by the shop, the ERP and the CRM at once (same e-mail in all three) who
    have ordered: the shop has their orders and the ERP their sale orders. The shop and the ERP hold
    every customer, the CRM ``crm_customers``. In customer order; identical for one seed."""
    buyers = {o["customer"] for o in data.orders}
    return [data.customers[i] for i in data.crm_customers if i in buyers]


def shared_person(data: Dataset, n: int = 0) -> str:
    """The e-mail of the ``n``-th person of :func:`shared_people` — a customer with an account and
    orders in the shop, a partner with sale orders in the ERP and a contact in the CRM — for tests
    that erase a person everywhere: ``shared_person(dataset(42))``."""
    return shared_people(data)[n]["email"]


def load(store: Store, records: Iterable[tuple[str, Any, dict[str, Any], datetime]]) -> None:
    """Write seed records ``(entity, id, doc, updated)`` with unique stamps in the past.

    Stamps follow the records' own dates; ties are broken by a microsecond so that
    ``(updated_at, id)`` stays a strict order across the whole store.
    """
    ordered = sorted(records, key=lambda r: (r[3], r[0], str(r[1])))
    per_entity: dict[str, tuple[list[tuple[Any, dict[str, Any]]], list[str]]] = {}
    last = ""
    for entity, id, doc, moment in ordered:
        stamp = format_stamp(moment)
        if stamp <= last:
            stamp = format_stamp(
                datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
                + timedelta(microseconds=1)
            )
        last = stamp
        items, stamps = per_entity.setdefault(entity, ([], []))
        items.append((id, doc))
        stamps.append(stamp)
    for entity, (items, stamps) in per_entity.items():
        store.put_many(entity, items, stamps=stamps)
