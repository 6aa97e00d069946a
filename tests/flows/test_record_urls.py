"""A system's record address: Triage and Trace link to the record in the system's own screens."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from flows.forms import SystemForm
from flows.models import RecordLink
from flows.models.systems import validate_record_url_template
from monitoring import triage
from monitoring.models import ErrorGroup
from tests.factories import FlowFactory, UserFactory
from tests.flows.test_failures import fail


@pytest.mark.parametrize(
    "template, problem",
    [
        ("shop.example.com/products/{id}", "https://"),
        ("https://shop.example.com/products/", "{id}"),
        ("https://shop.example.com/{sku}/{id}", "{sku}"),
        ("https://shop.example.com/{id", "braces"),
        ("javascript:alert({id})", "https://"),
    ],
)
def test_a_bad_template_is_refused_with_the_reason(template, problem):
    with pytest.raises(ValidationError) as caught:
        validate_record_url_template(template)
    assert problem in " ".join(caught.value.messages)


@pytest.mark.django_db
def test_the_system_form_names_the_wrong_field():
    form = SystemForm(data={"name": "Shop", "slug": "shop", "role": "ecommerce", "criticality": "normal",
                            "record_url_template": "ftp://shop/{id}", "timeout": 10})  # fmt: skip
    assert not form.is_valid()
    assert "record_url_template" in form.errors


@pytest.mark.django_db
def test_ids_are_quoted_into_the_address():
    flow = FlowFactory()
    system = flow.target_system
    system.record_url_template = "https://shop.example.com/admin/{entity}/{id}/edit"
    assert (
        system.record_url("products", "A B/1?x")
        == "https://shop.example.com/admin/products/A%20B%2F1%3Fx/edit"
    )
    assert system.record_url("products", "") == ""
    system.record_url_template = ""
    assert system.record_url("products", "1") == ""


@pytest.mark.django_db
def test_triage_and_trace_link_to_the_record_in_both_systems():
    flow = FlowFactory(source_entity="products", target_entity="products")
    flow.source_system.record_url_template = "https://pim.example.com/item/{id}"
    flow.source_system.save()
    flow.target_system.record_url_template = "https://shop.example.com/admin/{entity}/{id}"
    flow.target_system.save()
    RecordLink.objects.create(
        flow=flow, source_system=flow.source_system, source_entity="products", source_id="SKU-1",
        target_system=flow.target_system, target_entity="products", target_id="901",
    )  # fmt: skip
    record = fail(flow, "SKU-1", "price: 0 is below the minimum 1")
    triage.record_failures(flow, [record])
    group = ErrorGroup.objects.get(signature=record.signature)
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    page = client.get(reverse("monitoring:errorgroup", args=[group.pk])).content.decode()
    assert 'href="https://pim.example.com/item/SKU-1"' in page
    assert 'href="https://shop.example.com/admin/products/901"' in page
    traced = client.get(reverse("monitoring:trace"), {"q": "SKU-1"}).content.decode()
    assert 'href="https://pim.example.com/item/SKU-1"' in traced
    assert 'href="https://shop.example.com/admin/products/901"' in traced
