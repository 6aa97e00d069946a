"""``ABSOLUTE_URL_OVERRIDES`` targets for models the project does not own (kept import-light for settings)."""

from django.urls import reverse


def user_url(user) -> str:
    return reverse("auth:user", args=[user.pk])
