from flows.models import System
from integration_hub.testing.api import APIViewTestCases
from tests.factories import SystemFactory, system_api_data


class SystemAPITest(APIViewTestCases.APIViewTestCase):
    model = System
    basename = "flows-api:system"
    create_data = system_api_data()
    invalid_create_data = system_api_data(name="", slug="bad slug", role="mainframe")
    update_data = {"criticality": "critical"}

    def create_object(self, **overrides):
        return SystemFactory(**overrides)

    def test_invalid_data_names_each_field(self):
        self.add_permissions("view", "add")
        body = self.client.post(self.list_url(), self.invalid_create_data, format="json").json()
        self.assertEqual(set(body), {"name", "slug", "role"})
