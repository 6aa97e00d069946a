"""Test-only: keep the live server and the worker of a test session right across database flushes.

The console's ASGI server and the django-q2 worker outlive each transactional test, whose flush empties
the content-type table and recreates it with new ids. Django caches content types per process, so a
server would go on writing audit entries (and guardian checks) with ids that no longer exist — a
foreign-key error that only shows when tests run in a certain order. The subprocesses started by tests
clear that cache before each request and each task; production processes never see ids change.
"""

from django.apps import AppConfig


def clear_caches(**kwargs) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


class ClearCachesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        clear_caches()
        return self.get_response(request)


class IsolationConfig(AppConfig):
    name = "tests"
    label = "tests_isolation"
    verbose_name = "test isolation"

    def ready(self):
        from django_q.signals import pre_execute

        pre_execute.connect(clear_caches, dispatch_uid="tests-clear-caches")
