"""Alert rules, alert history and the user's notifications. Every change goes through
``monitoring.alerts``; permissions through the generic views (``permissions.restrict``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from integration_hub.permissions import can, restrict
from integration_hub.views import generic
from monitoring import alerts
from monitoring.alert_filtersets import AlertFilterSet, AlertRuleFilterSet
from monitoring.alert_forms import AlertRuleForm, NotificationPreferenceForm, SnoozeForm
from monitoring.alert_tables import AlertRuleTable, AlertTable
from monitoring.models import Alert, AlertRule, Notification
from monitoring.models.alerts import AlertState


class AlertRuleListView(generic.ObjectListView):
    queryset = AlertRule.objects.select_related("system", "flow").annotate(
        firing_count=Count("alerts", filter=Q(alerts__state=AlertState.FIRING))
    )
    filterset = AlertRuleFilterSet
    table = AlertRuleTable
    template_name = "monitoring/alertrule_list.html"
    empty_message = gettext_lazy(
        "No alert rule yet. Add one to hear about failed runs, stale data or a system that is down — "
        "by email, in a chat channel or here in the console."
    )


class AlertRuleView(generic.ObjectView):
    queryset = AlertRule.objects.select_related("system", "flow", "created_by")
    template_name = "monitoring/alertrule.html"

    def get_extra_context(self, obj):
        condition = alerts.get_condition(obj.condition)
        return {
            "condition": condition,
            "firing": list(obj.alerts.filter(state=AlertState.FIRING)),
            "history": list(obj.alerts.all()[:50]),
            "deliveries": list(obj.deliveries.select_related("alert")[:50]),
            "can_test": can(self.request.user, "test", obj),
            "snooze_form": SnoozeForm(),
            "snoozed": obj.is_snoozed(),
            "email_users": list(obj.email_users.all()),
            "email_roles": list(obj.email_roles.all()),
            "inapp_users": list(obj.inapp_users.all()),
            "inapp_roles": list(obj.inapp_roles.all()),
        }


class AlertRuleEditView(generic.ObjectEditView):
    queryset = AlertRule.objects.all()
    form = AlertRuleForm
    template_name = "monitoring/alertrule_edit.html"

    def get_form_kwargs(self):
        return {"user": self.request.user}


class AlertRuleDeleteView(generic.ObjectDeleteView):
    queryset = AlertRule.objects.all()


class AlertRuleHistoryView(generic.ObjectHistoryView):
    queryset = AlertRule.objects.all()


class AlertRuleTestView(generic.ObjectMixin, View):
    """Send test (POST): a test message on each channel of the rule, with the outcome of each."""

    queryset = AlertRule.objects.all()
    action = "test"

    def post(self, request, pk):
        rule = self.get_object(pk=pk)
        deliveries = alerts.send_test(rule, user=request.user)
        if not deliveries:
            messages.warning(request, _("This rule has no channel yet: add recipients or a webhook first."))
        for delivery in deliveries:
            level = messages.success if delivery.ok else messages.error
            level(
                request,
                _("%(channel)s: %(status)s")
                % {"channel": delivery.get_channel_display().capitalize(), "status": delivery.status},
            )
        return HttpResponseRedirect(rule.get_absolute_url())


class AlertRuleSnoozeView(generic.ObjectMixin, View):
    """Snooze 1 h, 24 h, until a moment, or unsnooze (POST)."""

    queryset = AlertRule.objects.all()
    action = "test"

    def post(self, request, pk):
        rule = self.get_object(pk=pk)
        form = SnoozeForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return HttpResponseRedirect(rule.get_absolute_url())
        until = form.cleaned_data.get("snoozed_until")
        alerts.snooze_rule(rule, until, user=request.user)
        if until:
            messages.success(
                request,
                _("Snoozed until %(until)s: no notification until then.")
                % {"until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")},
            )
        else:
            messages.success(request, _("Snooze ended: the rule notifies again."))
        return HttpResponseRedirect(rule.get_absolute_url())


class AlertListView(generic.ObjectListView):
    """Every alert of the rules the user may view, newest first."""

    queryset = Alert.objects.select_related("rule")
    filterset = AlertFilterSet
    table = AlertTable
    template_name = "monitoring/alert_list.html"
    empty_message = gettext_lazy("No alert so far. Alerts open here when a rule's condition holds.")

    def get_queryset(self):
        rules = restrict(AlertRule.objects.all(), self.request.user, "view")
        return super().get_queryset().filter(rule__in=rules)


# --- the user's own notifications --------------------------------------------------------------------


class NotificationListView(View):
    """The signed-in user's notifications (nobody else's, whatever their rights)."""

    def get(self, request):
        qs = Notification.objects.filter(user=request.user)
        show = request.GET.get("show")
        if show == "unread":
            qs = qs.filter(read_at__isnull=True)
        page = Paginator(qs, 50).get_page(request.GET.get("page"))
        return render(
            request,
            "monitoring/notification_list.html",
            {
                "page": page,
                "show": show,
                "unread": alerts.unread_count(request.user),
                "title": _("Notifications"),
            },
        )


class NotificationReadView(View):
    """Mark read (POST): ``id`` (repeatable) for some, ``all=1`` for every unread notification."""

    def post(self, request):
        ids = None if request.POST.get("all") else [int(v) for v in request.POST.getlist("id") if v.isdigit()]
        changed = alerts.mark_read(request.user, ids)
        if request.htmx:
            from django.http import HttpResponse

            return HttpResponse(status=204, headers={"HX-Trigger": "hub:notifications-read"})
        if ids is None and changed:
            messages.success(request, _("All notifications marked as read."))
        return HttpResponseRedirect(generic.safe_return_url(request, reverse("monitoring:notification_list")))


class NotificationPreferencesView(View):
    template_name = "monitoring/notification_preferences.html"

    def get(self, request):
        form = NotificationPreferenceForm(instance=alerts.preferences_for(request.user))
        return render(request, self.template_name, {"form": form, "title": _("Notification preferences")})

    def post(self, request):
        form = NotificationPreferenceForm(request.POST, instance=alerts.preferences_for(request.user))
        if not form.is_valid():
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return render(
                request,
                self.template_name,
                {"form": form, "title": _("Notification preferences")},
                status=400,
            )
        form.save()
        messages.success(request, _("Your notification preferences are saved."))
        return HttpResponseRedirect(reverse("monitoring:notification_preferences"))
