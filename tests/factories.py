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
