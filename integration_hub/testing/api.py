"""API test cases per endpoint kind (NetBox's ``APIViewTestCases``)."""

from django.urls import reverse
from rest_framework.test import APIClient

from integration_hub import services
from integration_hub.models import AuditAction
from integration_hub.testing.base import ModelTestCase


class APIViewTestCases:
    class _Base(ModelTestCase):
        basename = None  # "flows-api:system"
        create_data: dict = {}
        invalid_create_data: dict = {}
        update_data: dict = {}

        def setUp(self):
            super().setUp()
            self.client = APIClient()
            self.client.force_login(self.user)

        def list_url(self):
            return reverse(f"{self.basename}-list")

        def detail_url(self, obj):
            return reverse(f"{self.basename}-detail", args=[obj.pk])

        def ids(self, response):
            return {row["id"] for row in response.json()["results"]}

    class ListObjectsTestCase(_Base):
        def test_list_anonymous(self):
            self.client.logout()
            self.assertIn(self.client.get(self.list_url()).status_code, (401, 403))

        def test_list_without_permission(self):
            self.create_object()
            self.assertEqual(self.client.get(self.list_url()).status_code, 403)

        def test_list_with_permission(self):
            a, b = self.create_object(), self.create_object()
            self.add_permissions("view")
            response = self.client.get(self.list_url())
            self.assertEqual(response.status_code, 200)
            self.assertEqual(self.ids(response), {a.pk, b.pk})

        def test_list_with_object_permission(self):
            granted, _other = self.create_object(), self.create_object()
            self.grant(granted, "view")
            response = self.client.get(self.list_url())
            self.assertEqual(response.status_code, 200)
            self.assertEqual(self.ids(response), {granted.pk})

    class GetObjectTestCase(_Base):
        def test_get_object_with_object_permission(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view")
            self.assertEqual(self.client.get(self.detail_url(granted)).status_code, 200)
            self.assertEqual(self.client.get(self.detail_url(other)).status_code, 404)

    class CreateObjectTestCase(_Base):
        def test_create_without_permission(self):
            self.add_permissions("view")
            response = self.client.post(self.list_url(), self.create_data, format="json")
            self.assertEqual(response.status_code, 403)
            self.assertEqual(self.model.objects.count(), 0)

        def test_create_with_permission(self):
            self.add_permissions("view", "add")
            response = self.client.post(self.list_url(), self.create_data, format="json")
            self.assertEqual(response.status_code, 201, response.content)
            obj = self.model.objects.get(pk=response.json()["id"])
            self.assertTrue(self.audit_entries(obj, AuditAction.CREATE).exists())

        def test_create_with_invalid_data(self):
            self.add_permissions("view", "add")
            response = self.client.post(self.list_url(), self.invalid_create_data, format="json")
            self.assertEqual(response.status_code, 400)
            self.assertTrue(response.json())
            self.assertEqual(self.model.objects.count(), 0)

        def test_create_with_malformed_json(self):
            self.add_permissions("view", "add")
            response = self.client.post(self.list_url(), data='{"name": ', content_type="application/json")
            self.assertEqual(response.status_code, 400)
            self.assertIn("JSON parse error", response.json()["detail"])
            self.assertEqual(self.model.objects.count(), 0)

        def test_create_with_read_only_token(self):
            self.add_permissions("view", "add")
            _token, key = services.create_api_token(self.user, name="ro")
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            response = client.post(self.list_url(), self.create_data, format="json")
            self.assertEqual(response.status_code, 403)
            self.assertIn("read-only", response.json()["detail"])
            self.assertEqual(self.model.objects.count(), 0)

    class UpdateObjectTestCase(_Base):
        def test_update_with_view_permission_only(self):
            obj = self.create_object()
            self.add_permissions("view")
            response = self.client.patch(self.detail_url(obj), self.update_data, format="json")
            self.assertEqual(response.status_code, 403)

        def test_update_with_object_permission(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view", "change")
            self.grant(other, "view")
            self.assertEqual(
                self.client.patch(self.detail_url(granted), self.update_data, format="json").status_code, 200
            )
            self.assertEqual(
                self.client.patch(self.detail_url(other), self.update_data, format="json").status_code, 403
            )
            granted.refresh_from_db()
            for field, value in self.update_data.items():
                self.assertEqual(str(getattr(granted, field)), str(value))

    class DeleteObjectTestCase(_Base):
        def test_delete_with_object_permission(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view", "delete")
            self.grant(other, "view")
            self.assertEqual(self.client.delete(self.detail_url(other)).status_code, 403)
            self.assertEqual(self.client.delete(self.detail_url(granted)).status_code, 204)
            self.assertFalse(self.model.objects.filter(pk=granted.pk).exists())
            self.assertTrue(self.model.objects.filter(pk=other.pk).exists())

    class APIViewTestCase(
        ListObjectsTestCase,
        GetObjectTestCase,
        CreateObjectTestCase,
        UpdateObjectTestCase,
        DeleteObjectTestCase,
    ):
        pass
