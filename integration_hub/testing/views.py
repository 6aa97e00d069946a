"""View test cases per generic view. A model's test class mixes those its URLs provide."""

from django.urls import reverse

from integration_hub.models import AuditAction
from integration_hub.testing.base import ModelTestCase
from integration_hub.views.generic import viewname


class ViewTestCases:
    class _Base(ModelTestCase):
        form_data: dict = {}

        def url(self, action, obj=None):
            return reverse(viewname(self.model, action), args=[obj.pk] if obj is not None else [])

        def assert_login_redirect(self, response):
            self.assertEqual(response.status_code, 302)
            self.assertIn(reverse("login"), response["Location"])

        def assert_saved(self, obj, data):
            """Every model field named in ``data`` holds the posted value (checkboxes aside)."""
            from django.core.exceptions import FieldDoesNotExist
            from django.db import models

            for name, value in data.items():
                try:
                    field = obj._meta.get_field(name)
                except FieldDoesNotExist:
                    continue  # a form-only field (a connector's parameter…)
                if isinstance(field, models.BooleanField) or field.is_relation:
                    continue
                self.assertEqual(getattr(obj, name), field.to_python(value), name)

    class GetObjectViewTestCase(_Base):
        def test_get_object_anonymous(self):
            obj = self.create_object()
            self.client.logout()
            self.assert_login_redirect(self.client.get(obj.get_absolute_url()))

        def test_get_object_without_permission(self):
            obj = self.create_object()
            self.assertEqual(self.client.get(obj.get_absolute_url()).status_code, 404)

        def test_get_object_with_permission(self):
            obj = self.create_object()
            self.add_permissions("view")
            response = self.client.get(obj.get_absolute_url())
            self.assertEqual(response.status_code, 200)
            self.assertContains(response, str(obj))

        def test_get_object_with_object_permission(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view")
            self.assertEqual(self.client.get(granted.get_absolute_url()).status_code, 200)
            self.assertEqual(self.client.get(other.get_absolute_url()).status_code, 404)

    class ListObjectsViewTestCase(_Base):
        def test_list_objects_anonymous(self):
            self.client.logout()
            self.assert_login_redirect(self.client.get(self.url("list")))

        def test_list_objects_without_permission(self):
            self.create_object()
            self.assertEqual(self.client.get(self.url("list")).status_code, 403)

        def test_list_objects_with_permission(self):
            objs = [self.create_object(), self.create_object()]
            self.add_permissions("view")
            response = self.client.get(self.url("list"))
            self.assertEqual(response.status_code, 200)
            for obj in objs:
                self.assertContains(response, str(obj))

        def test_list_objects_with_object_permission(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view")
            response = self.client.get(self.url("list"))
            self.assertEqual(response.status_code, 200)
            self.assertContains(response, str(granted))
            self.assertNotContains(response, str(other))

        def test_export_link_on_the_page_downloads_csv(self):
            import re
            from html import unescape

            obj = self.create_object()
            self.add_permissions("view")
            page = self.client.get(self.url("list"), {"per_page": 25}).content.decode()
            href = unescape(re.search(r'href="([^"]*export=csv[^"]*)"[^>]*download', page).group(1))
            response = self.client.get(self.url("list") + href if href.startswith("?") else href)
            self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
            self.assertIn(str(obj), b"".join(response.streaming_content).decode())

        def test_export_csv_has_only_visible_objects(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view")
            response = self.client.get(self.url("list"), {"export": "csv"})
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
            body = b"".join(response.streaming_content).decode()
            self.assertIn(str(granted), body)
            self.assertNotIn(str(other), body)

    class CreateObjectViewTestCase(_Base):
        invalid_form_data: dict = {}

        def test_create_object_anonymous(self):
            self.client.logout()
            self.assert_login_redirect(self.client.post(self.url("add"), self.form_data))
            self.assertEqual(self.model.objects.count(), 0)

        def test_create_object_without_permission(self):
            self.assertEqual(self.client.get(self.url("add")).status_code, 403)
            self.assertEqual(self.client.post(self.url("add"), self.form_data).status_code, 403)
            self.assertEqual(self.model.objects.count(), 0)

        def test_create_object_with_permission(self):
            self.add_permissions("add", "view")
            self.assertEqual(self.client.get(self.url("add")).status_code, 200)
            response = self.client.post(self.url("add"), self.form_data)
            self.assertEqual(
                response.status_code,
                302,
                getattr(response, "context", None) and response.context.get("form").errors,
            )
            obj = self.model.objects.get()
            self.assertEqual(response["Location"], obj.get_absolute_url())
            entry = self.audit_entries(obj, AuditAction.CREATE).get()
            self.assertEqual(entry.user, self.user)

        def test_create_object_with_invalid_data(self):
            self.add_permissions("add", "view")
            response = self.client.post(self.url("add"), self.invalid_form_data)
            self.assertEqual(response.status_code, 400)
            self.assertTrue(response.context["form"].errors)
            self.assertContains(response, 'aria-invalid="true"', status_code=400)
            self.assertEqual(self.model.objects.count(), 0)

    class EditObjectViewTestCase(_Base):
        edit_data: dict = {}

        def test_edit_object_anonymous(self):
            obj = self.create_object()
            self.client.logout()
            self.assert_login_redirect(self.client.post(self.url("edit", obj), self.edit_data))

        def test_edit_object_without_permission(self):
            obj = self.create_object()
            self.assertEqual(self.client.post(self.url("edit", obj), self.edit_data).status_code, 404)

        def test_edit_object_with_view_permission_only(self):
            obj = self.create_object()
            self.add_permissions("view")
            before = obj.audit_snapshot()
            self.assertEqual(self.client.post(self.url("edit", obj), self.edit_data).status_code, 403)
            obj.refresh_from_db()
            self.assertEqual(obj.audit_snapshot(), before)
            self.assertTrue(self.audit_entries(obj, AuditAction.UPDATE).count() == 0)

        def test_edit_object_with_permission(self):
            obj = self.create_object()
            self.add_permissions("view", "change")
            response = self.client.post(self.url("edit", obj), self.edit_data)
            self.assertEqual(response.status_code, 302)
            obj.refresh_from_db()
            self.assert_saved(obj, self.edit_data)
            entry = self.audit_entries(obj, AuditAction.UPDATE).get()
            self.assertTrue(entry.changes)

        def test_edit_object_with_object_permission(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view", "change")
            self.grant(other, "view")
            self.assertEqual(self.client.post(self.url("edit", granted), self.edit_data).status_code, 302)
            self.assertEqual(self.client.post(self.url("edit", other), self.edit_data).status_code, 403)

    class DeleteObjectViewTestCase(_Base):
        def test_delete_object_anonymous(self):
            obj = self.create_object()
            self.client.logout()
            self.assert_login_redirect(self.client.post(self.url("delete", obj)))
            self.assertTrue(self.model.objects.filter(pk=obj.pk).exists())

        def test_delete_object_without_permission(self):
            obj = self.create_object()
            self.add_permissions("view")
            self.assertEqual(self.client.post(self.url("delete", obj)).status_code, 403)
            self.assertTrue(self.model.objects.filter(pk=obj.pk).exists())

        def test_delete_object_with_permission(self):
            obj = self.create_object()
            self.add_permissions("view", "delete")
            self.assertEqual(self.client.get(self.url("delete", obj)).status_code, 200)
            self.assertEqual(self.client.post(self.url("delete", obj)).status_code, 302)
            self.assertFalse(self.model.objects.filter(pk=obj.pk).exists())
            self.assertTrue(self.audit_entries(obj, AuditAction.DELETE).exists())

        def test_delete_object_with_object_permission(self):
            granted, other = self.create_object(), self.create_object()
            self.grant(granted, "view", "delete")
            self.grant(other, "view")
            self.assertEqual(self.client.post(self.url("delete", granted)).status_code, 302)
            self.assertEqual(self.client.post(self.url("delete", other)).status_code, 403)
            self.assertTrue(self.model.objects.filter(pk=other.pk).exists())

    class HistoryViewTestCase(_Base):
        def test_history_shows_changes_to_viewers_only(self):
            obj = self.create_object()
            self.assertEqual(self.client.get(self.url("history", obj)).status_code, 404)
            self.grant(obj, "view")
            response = self.client.get(self.url("history", obj))
            self.assertEqual(response.status_code, 200)
            self.assertEqual(
                response.context["table"].paginator.count, self.audit_entries(obj, AuditAction.CREATE).count()
            )

    class AccessViewTestCase(_Base):
        def test_access_tab_needs_manage_access(self):
            from django.contrib.auth.models import Permission

            obj = self.create_object()
            self.add_permissions("view", "change")
            self.assertEqual(self.client.get(self.url("access", obj)).status_code, 403)
            self.user.user_permissions.add(Permission.objects.get(codename="manage_access"))
            self._forget_cached_permissions()
            self.assertEqual(self.client.get(self.url("access", obj)).status_code, 200)

    class PrimaryObjectViewTestCase(
        GetObjectViewTestCase,
        ListObjectsViewTestCase,
        CreateObjectViewTestCase,
        EditObjectViewTestCase,
        DeleteObjectViewTestCase,
        HistoryViewTestCase,
        AccessViewTestCase,
    ):
        pass
