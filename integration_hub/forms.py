"""Form rendering shared by every console form: Bootstrap classes, accessible errors."""

from django import forms
from django.forms.renderers import TemplatesSetting


class ConsoleFormRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"


_INPUT_CLASS = {
    forms.CheckboxInput: "form-check-input",
    forms.CheckboxSelectMultiple: "",
    forms.RadioSelect: "",
    forms.Select: "form-select",
    forms.SelectMultiple: "form-select",
}


class ConsoleFormMixin:
    """Adds Bootstrap classes and ``aria-invalid`` to widgets; keeps forms keyboard friendly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            self.style_field(field)

    @staticmethod
    def style_field(field):
        widget = field.widget
        css = next((c for t, c in _INPUT_CLASS.items() if isinstance(widget, t)), "form-control")
        if css and css not in widget.attrs.get("class", ""):
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def fieldsets(self):
        """[(legend, [field names])] to render in groups; None renders the fields in order."""
        return None

    def grouped_fields(self):
        groups = self.fieldsets()
        if not groups:
            return None
        return [
            (legend, [self[n] for n in names if n in self.fields and not self[n].is_hidden])
            for legend, names in groups
        ]

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()


class ConsoleModelForm(ConsoleFormMixin, forms.ModelForm):
    pass


class ConsoleForm(ConsoleFormMixin, forms.Form):
    pass


def active_users():
    """Users offered in owner/assignee pickers: active accounts only."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(is_active=True).order_by("username")
