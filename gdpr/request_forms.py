"""Forms of the data-subject request pages (the DPO's console) and of the public intake page."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gdpr import deadlines
from gdpr.models import DataSubjectRequest
from gdpr.models.choices import RequestChannel, RequestKind, RequestState
from integration_hub.filtersets import BaseFilterSet
from integration_hub.forms import ConsoleForm, active_users


def _lines(text: str) -> list[str]:
    return [v.strip() for v in (text or "").replace(",", "\n").splitlines() if v.strip()]


class RequestForm(ConsoleForm):
    """The DPO records a request received by e-mail, post, phone…"""

    kind = forms.ChoiceField(label=_("Type"), choices=RequestKind.choices, initial=RequestKind.ERASURE)
    channel = forms.ChoiceField(
        label=_("Received by"), choices=RequestChannel.choices, initial=RequestChannel.EMAIL
    )
    received_on = forms.DateField(
        label=_("Received on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The deadline is one calendar month after this day."),
    )
    email = forms.CharField(
        label=_("E-mail addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
        help_text=_("One per line. The person is looked up in every system by these."),
    )
    phone = forms.CharField(
        label=_("Phone numbers"), required=False, widget=forms.Textarea(attrs={"rows": 1})
    )
    customer_id = forms.CharField(
        label=_("Customer numbers"), required=False, widget=forms.Textarea(attrs={"rows": 1})
    )
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=active_users(), required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    send_code = forms.BooleanField(
        label=_("E-mail the person a verification code now"),
        required=False,
        help_text=_("Or verify their identity yourself on the request's page (ID document seen…)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = active_users()
        self.fields["received_on"].initial = timezone.localdate()

    def clean_email(self):
        values = _lines(self.cleaned_data.get("email"))
        validator = forms.EmailField()
        for value in values:
            validator.clean(value)
        return values

    def clean_phone(self):
        return _lines(self.cleaned_data.get("phone"))

    def clean_customer_id(self):
        return _lines(self.cleaned_data.get("customer_id"))

    def clean(self):
        data = super().clean()
        if not (data.get("email") or data.get("phone") or data.get("customer_id")):
            raise forms.ValidationError(_("Give at least one identifier of the person (an e-mail address…)."))
        if data.get("send_code") and not data.get("email"):
            self.add_error("send_code", _("A code can only be sent to an e-mail address."))
        received = data.get("received_on")
        if received and received > timezone.localdate():
            self.add_error("received_on", _("A request cannot be received in the future."))
        return data

    def identifiers(self) -> dict[str, list[str]]:
        return {
            kind: self.cleaned_data[kind]
            for kind in ("email", "phone", "customer_id")
            if self.cleaned_data.get(kind)
        }


class ExtendForm(ConsoleForm):
    months = forms.TypedChoiceField(
        label=_("Extend by"),
        choices=[(n, _("%(n)s month(s)") % {"n": n}) for n in range(1, deadlines.MAX_EXTENSION_MONTHS + 1)],
        coerce=int,
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
    notified_on = forms.DateField(
        label=_("Person told on"), widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate
    )


class ReasonForm(ConsoleForm):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class VerifyForm(ConsoleForm):
    method = forms.CharField(
        label=_("How was the identity verified?"),
        max_length=200,
        help_text=_("e.g. ID document seen, code confirmed by phone, signed letter."),
    )


class CodeForm(ConsoleForm):
    code = forms.CharField(
        label=_("Verification code"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class AssignForm(ConsoleForm):
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=active_users(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = active_users()


class ManualTaskForm(ConsoleForm):
    note = forms.CharField(label=_("What was done"), widget=forms.Textarea(attrs={"rows": 2}))


class IntakeForm(ConsoleForm):
    """The public page: a person asks for their data to be erased or sent to them."""

    kind = forms.ChoiceField(
        label=_("What do you ask for?"),
        choices=[
            (RequestKind.ERASURE, _("Erase my personal data")),
            (RequestKind.ACCESS, _("Send me a copy of my personal data")),
        ],
        widget=forms.RadioSelect,
        initial=RequestKind.ERASURE,
    )
    email = forms.EmailField(
        label=_("Your e-mail address"),
        help_text=_("The one you used with us. We send a code to it to check the request is yours."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    # A field people do not see; bots fill it in.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})


class RequestFilterSet(BaseFilterSet):
    search_fields = ("reference", "pseudonym")
    state = django_filters.MultipleChoiceFilter(choices=RequestState.choices, label=_("State"))
    kind = django_filters.ChoiceFilter(choices=RequestKind.choices, label=_("Type"))
    urgency = django_filters.ChoiceFilter(
        method="by_urgency",
        label=_("Deadline"),
        choices=[("overdue", _("overdue")), ("due_soon", _("due soon"))],
    )
    assignee = django_filters.ModelChoiceFilter(queryset=active_users(), label=_("Assignee"))

    class Meta(BaseFilterSet.Meta):
        model = DataSubjectRequest
        fields = ("q", "state", "kind", "urgency", "assignee")

    def by_urgency(self, queryset, name, value):
        from datetime import timedelta

        from gdpr.models.choices import OPEN_REQUEST_STATES

        today = timezone.localdate()
        queryset = queryset.filter(state__in=OPEN_REQUEST_STATES)
        if value == "overdue":
            return queryset.filter(due_on__lt=today)
        return queryset.filter(due_on__gte=today, due_on__lte=today + timedelta(days=deadlines.DUE_SOON_DAYS))
