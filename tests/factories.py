import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from flows.choices import SystemRole
from flows.models import Flow, System, ValueMap
from integration_hub.roles import ensure_roles

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if extracted:
            ensure_roles()
            self.groups.add(*Group.objects.filter(name__in=extracted))
        self.save()


REST_ENTITIES = [{"key": "items", "path": "/items", "pagination": {"type": "none"}}]


def system_api_data(**overrides) -> dict:
    """A valid body for POST /api/systems/ (a REST system pointing nowhere)."""
    data = {
        "name": "Main PIM",
        "slug": "main-pim",
        "role": "pim",
        "connector": "rest",
        "parameters": {"base_url": "http://127.0.0.1:9/api", "auth_type": "none", "entities": REST_ENTITIES},
    }
    return {**data, **overrides}


class SystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = System

    name = factory.Sequence(lambda n: f"System {n}")
    slug = factory.Sequence(lambda n: f"system-{n}")
    role = SystemRole.ECOMMERCE
    connector = "rest"
    parameters = factory.LazyFunction(
        lambda: {"base_url": "http://127.0.0.1:9/api", "auth_type": "none", "entities": REST_ENTITIES}
    )


class ValueMapFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValueMap

    name = factory.Sequence(lambda n: f"map-{n}")
    entries = factory.LazyFunction(lambda: {"R": "Red", "B": "Blue"})


class FlowFactory(factory.django.DjangoModelFactory):
    """A flow saved straight to the database (no version); use designer.save_flow for a versioned one."""

    class Meta:
        model = Flow

    name = factory.Sequence(lambda n: f"Flow {n}")
    source_system = factory.SubFactory(SystemFactory)
    source_entity = "products"
    target_system = factory.SubFactory(SystemFactory)
    target_entity = "products"


def approved_activity_for(*flows, reference: str | None = None):
    """An approved GDPR register entry covering ``flows`` (every data category their personal fields
    carry, every transfer they make declared), so the privacy-by-design gate lets them be enabled."""
    from gdpr import register
    from gdpr.models import ControllerProfile, DataCategory, ProcessingActivity, Purpose, SubjectCategory
    from gdpr.taxonomy import ensure_taxonomy

    ensure_taxonomy()
    profile = ControllerProfile.load()
    if not register.controller_filled(profile):
        profile.legal_name, profile.address, profile.dpo_email = (
            "Test SAS",
            "1 test street",
            "dpo@example.test",
        )
        profile.save()
    activity = ProcessingActivity.objects.create(
        reference=reference or register.next_reference(),
        name="Test processing",
        legal_basis="contract",
        retention={"identity": "3 years"},
        security_measures={"access_control": "roles"},
        recipients=[{"name": "Sales", "kind": "internal"}],
    )
    activity.purposes.set(Purpose.objects.filter(key="customer_service"))
    activity.subject_categories.set(SubjectCategory.objects.filter(key="customers"))
    activity.flows.add(*flows)
    facts = register.derived(activity)
    keys = [c["key"] for c in facts["categories"]] or ["identity"]
    activity.data_categories.set(DataCategory.objects.filter(key__in=keys))
    activity.transfers = [
        {"country": t["country"], "safeguard": t["safeguard"] or "scc", "document": t["document"]}
        for t in facts["transfers"]
    ]
    activity.save()
    register.submit_activity(activity)
    return register.approve_activity(activity, None)
