from django import forms
from django.utils.translation import gettext_lazy as _

from flows.models import System
from integration_hub.forms import ConsoleModelForm, active_users


class SystemForm(ConsoleModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = active_users()

    class Meta:
        model = System
        fields = ("name", "slug", "role", "criticality", "owner", "enabled", "description")
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"slug": _("Short identifier used in URLs and configuration files, e.g. 'main-shop'.")}
