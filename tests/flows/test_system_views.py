from flows.models import System
from integration_hub.testing.views import ViewTestCases
from tests.factories import SystemFactory


class SystemViewTest(ViewTestCases.PrimaryObjectViewTestCase):
    model = System
    connection = {
        "connector": "rest",
        "timeout": "30",
        "verify_tls": "on",
        "param_base_url": "http://127.0.0.1:9/api",
        "param_auth_type": "none",
        "param_entities": '[{"key": "items", "path": "/items"}]',
    }
    form_data = {
        "name": "Main shop",
        "slug": "main-shop",
        "role": "ecommerce",
        "criticality": "high",
        "enabled": "on",
        **connection,
    }
    invalid_form_data = {
        "name": "",
        "slug": "not a slug!",
        "role": "mainframe",
        "criticality": "normal",
        **connection,
    }
    edit_data = {
        "name": "Renamed shop",
        "slug": "renamed-shop",
        "role": "ecommerce",
        "criticality": "critical",
        **connection,
    }

    def create_object(self, **overrides):
        return SystemFactory(**overrides)

    def test_invalid_form_names_each_wrong_field(self):
        self.add_permissions("add", "view")
        response = self.client.post(self.url("add"), self.invalid_form_data)
        errors = response.context["form"].errors
        self.assertEqual(set(errors), {"name", "slug", "role"})
        self.assertIn("mainframe is not one of the available choices", str(errors["role"]))

    def test_list_filters_by_role_and_search(self):
        self.add_permissions("view")
        SystemFactory(name="Akeneo", role="pim")
        SystemFactory(name="Odoo", role="erp")
        response = self.client.get(self.url("list"), {"role": "pim"})
        self.assertContains(response, "Akeneo")
        self.assertNotContains(response, "Odoo")
        response = self.client.get(self.url("list"), {"q": "odo"})
        self.assertContains(response, "Odoo")
        self.assertNotContains(response, "Akeneo")

    def test_empty_list_says_what_to_do_next(self):
        self.add_permissions("view", "add")
        response = self.client.get(self.url("list"))
        self.assertContains(response, "Add the first system")

    def test_csv_export_neutralises_formulas(self):
        self.add_permissions("view")
        SystemFactory(name='=HYPERLINK("http://evil.invalid")')
        body = b"".join(self.client.get(self.url("list"), {"export": "csv"}).streaming_content).decode()
        self.assertIn("'=HYPERLINK", body)
