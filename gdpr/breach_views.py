"""Pages of the breach register (Art. 33/34) and of the retention rules of the hub's own stores.

Every change goes through ``gdpr.breaches`` or ``gdpr.retention``; permissions through the generic
views (``permissions.restrict``): the DPO records and edits, Integration admins read.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from gdpr import breaches, retention
from gdpr.breach_filtersets import BreachFilterSet
from gdpr.breach_forms import BreachForm, NotifyAuthorityForm, NotifyPersonsForm, RetentionRuleForm
from gdpr.breach_tables import BreachTable, clock_attrs, clock_badge
from gdpr.models import Breach, PurgeLog, RetentionRule
from gdpr.models.choices import HubStore
from integration_hub.permissions import has_any_permission, has_global_permission, restrict
from integration_hub.views import generic


def _form_errors_to_messages(request, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


class BreachAccessMixin:
    """403 (not 404) for users with no access to the breach register at all: the page exists, they
    may not open it. Users with some access get the generic rules (hidden rows give 404)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not has_any_permission(request.user, Breach, "view"):
            generic.deny(request, _("You have no access to the breach register."))
        return super().dispatch(request, *args, **kwargs)


class BreachListView(generic.ObjectListView):
    queryset = Breach.objects.all()
    filterset = BreachFilterSet
    table = BreachTable
    template_name = "gdpr/breach_list.html"
    empty_message = gettext_lazy(
        "No breach recorded. When personal data is lost, disclosed or altered by accident or attack, "
        "record it here at once: the authority must be told within 72 hours of your becoming aware."
    )


class BreachView(BreachAccessMixin, generic.ObjectView):
    queryset = Breach.objects.select_related("created_by").prefetch_related(
        "systems", "data_categories", "subject_categories"
    )
    template_name = "gdpr/breach.html"

    def get_extra_context(self, obj):
        now = timezone.now()
        state = breaches.clock(obj, now)
        local_now = timezone.localtime(now).strftime("%Y-%m-%dT%H:%M")
        return {
            "clock": state,
            "clock_attrs": clock_attrs(state),
            "persons_reminder": breaches.persons_reminder(obj),
            "authority_form": NotifyAuthorityForm(breach=obj, initial={"at": local_now}, prefix="authority"),
            "persons_form": NotifyPersonsForm(breach=obj, initial={"at": local_now}, prefix="persons"),
            "register_categories": list(breaches.categories_for_systems(obj.systems.all())),
        }


class BreachEditView(BreachAccessMixin, generic.ObjectEditView):
    queryset = Breach.objects.all()
    form = BreachForm
    template_name = "gdpr/breach_edit.html"

    def get(self, request, **kwargs):
        obj = self.get_instance(kwargs)
        initial = {}
        if obj.pk is None:  # prefill from the query string (``?systems=1&systems=2``) when adding only
            initial = {k: v for k, v in request.GET.items() if k in self.form.base_fields}
            if request.GET.getlist("systems"):
                initial["systems"] = request.GET.getlist("systems")
            initial.setdefault("aware_at", timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
        return self.render_form(self.form(instance=obj, initial=initial), obj)

    def post(self, request, **kwargs):
        if request.POST.get("_prefill"):
            # Without JavaScript: "fill from the register" adds the chosen systems' categories, saves nothing.
            obj = self.get_instance(kwargs)
            data = request.POST.copy()
            chosen = set(data.getlist("data_categories"))
            found = breaches.categories_for_systems([s for s in data.getlist("systems") if s.isdigit()])
            data.setlist(
                "data_categories", sorted(chosen | {str(pk) for pk in found.values_list("pk", flat=True)})
            )
            initial = {
                name: (
                    data.getlist(name)
                    if name in ("systems", "data_categories", "subject_categories")
                    else data.get(name)
                )
                for name in self.form.base_fields
                if name in data
            }
            return self.render_form(self.form(instance=obj, initial=initial), obj)
        return super().post(request, **kwargs)

    def save_form(self, form):
        # The form checked the service's date rules already (``breaches.notification_errors``).
        m2m = {name: form.cleaned_data[name] for name in ("systems", "data_categories", "subject_categories")}
        return breaches.save_breach(form.save(commit=False), user=self.request.user, m2m=m2m)


class BreachHistoryView(BreachAccessMixin, generic.ObjectHistoryView):
    queryset = Breach.objects.all()


class BreachPrintView(BreachView):
    """One breach on a printable sheet (the browser's "save as PDF" gives a clean document)."""

    template_name = "gdpr/breach_print.html"


class BreachNotifyView(BreachAccessMixin, generic.ObjectMixin, View):
    """POST: record that the authority (``target="authority"``) or the persons were notified."""

    queryset = Breach.objects.all()
    action = "change"
    target = "authority"

    def get(self, request, pk):
        return HttpResponseRedirect(reverse("gdpr:breach", args=[pk]))

    def post(self, request, pk):
        breach = self.get_object(pk=pk)
        form_class = NotifyAuthorityForm if self.target == "authority" else NotifyPersonsForm
        form = form_class(request.POST, breach=breach, prefix=self.target)
        if not form.is_valid():
            _form_errors_to_messages(request, form)
            return HttpResponseRedirect(breach.get_absolute_url())
        data = form.cleaned_data
        try:
            if self.target == "authority":
                breaches.notify_authority(
                    breach,
                    at=data["at"],
                    reference=data.get("reference", ""),
                    late_reason=data.get("late_reason", ""),
                    user=request.user,
                )
                messages.success(request, _("Recorded: the authority was notified."))
            else:
                breaches.notify_persons(breach, at=data["at"], user=request.user)
                messages.success(request, _("Recorded: the persons affected were notified."))
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        return HttpResponseRedirect(breach.get_absolute_url())


class BreachCategoriesView(View):
    """GET ``?systems=1&systems=2``: the data categories the register says those systems hold (the
    breach form's prefill)."""

    def get(self, request):
        if not has_any_permission(request.user, Breach, "view"):
            generic.deny(request, _("You have no access to the breach register."))
        ids = [s for s in request.GET.getlist("systems") if s.isdigit()]
        found = breaches.categories_for_systems(ids)
        return JsonResponse({"categories": [{"id": c.pk, "name": c.name} for c in found]})


def breach_summary(user) -> dict:
    """The GDPR overview's breaches block: open breaches, and those still to notify with their clock."""
    visible = restrict(Breach.objects.all(), user, "view")
    waiting = visible.filter(
        authority_notified_at__isnull=True, not_notified_reason="", closed_at__isnull=True
    )
    return {
        "may_view": has_any_permission(user, Breach, "view"),
        "open": visible.filter(closed_at__isnull=True).count(),
        "waiting_count": waiting.count(),
        "waiting": [(b, clock_badge(b)) for b in waiting.order_by("aware_at")[:5]],
        "persons_to_tell": list(
            visible.filter(
                risk=Breach.Risk.HIGH,
                persons_notified_at__isnull=True,
                not_notified_reason="",
                closed_at__isnull=True,
            )[:5]
        ),
        "can_add": has_global_permission(user, Breach, "add"),
    }


# --- retention of the hub's own stores ------------------------------------------------------------------


class RetentionView(View):
    """The retention rules (one per hub store) with their last purge; the DPO edits them here."""

    template_name = "gdpr/retention.html"

    def rules(self):
        retention.ensure_rules()
        return list(RetentionRule.objects.order_by("store"))

    def check(self, request, action: str = "view"):
        if action == "view" and not has_any_permission(request.user, RetentionRule, "view"):
            generic.deny(request, _("You have no access to the retention rules."))
        if action == "change" and not has_global_permission(request.user, RetentionRule, "change"):
            generic.deny(request, _("You may not change the retention rules."))

    def render_page(self, request, forms, status=200):
        return render(
            request,
            self.template_name,
            {
                "rows": forms,
                "can_change": has_global_permission(request.user, RetentionRule, "change"),
                "purges": PurgeLog.objects.all()[:20],
                "schedule": _schedule(),
            },
            status=status,
        )

    def get(self, request):
        self.check(request)
        rules = self.rules()
        return self.render_page(
            request, [(rule, RetentionRuleForm(instance=rule, prefix=rule.store)) for rule in rules]
        )

    def post(self, request):
        self.check(request, "change")
        rules = self.rules()
        forms = [(rule, RetentionRuleForm(request.POST, instance=rule, prefix=rule.store)) for rule in rules]
        if not all(form.is_valid() for _rule, form in forms):
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return self.render_page(request, forms, status=400)
        for _rule, form in forms:
            if form.has_changed():
                form.save()  # an audited model: each change is in the audit log
        messages.success(request, _("Retention rules saved."))
        return HttpResponseRedirect(reverse("gdpr:retention"))


def _schedule():
    from django_q.models import Schedule

    from gdpr.schedules import RETENTION

    return Schedule.objects.filter(name=RETENTION).first()


class RetentionPurgeView(View):
    """The "purge now" page of one store: GET confirms with the number of rows that would go, POST purges."""

    queryset = RetentionRule.objects.all()  # the URL names a rule by its ``store``
    template_name = "gdpr/retention_purge.html"

    def get_rule(self, request, store):
        if store not in HubStore.values:
            raise Http404(_("No such store."))
        if not has_global_permission(request.user, RetentionRule, "change"):
            generic.deny(request, _("You may not purge the hub's stores."))
        retention.ensure_rules()
        return RetentionRule.objects.get(store=store)

    def get(self, request, store):
        rule = self.get_rule(request, store)
        return render(
            request,
            self.template_name,
            {
                "rule": rule,
                "count": retention.count_purgeable(store),
                "older_than": retention.cutoff(rule),
                "clears": store == HubStore.RECORD_LINKS,
            },
        )

    def post(self, request, store):
        rule = self.get_rule(request, store)
        log = retention.request_purge(
            store, request.user, reason=_("purged by hand (keep %(n)s days)") % {"n": rule.keep_days}
        )
        if log is None:
            messages.info(
                request,
                _("%(store)s: many rows to purge — a worker is doing it; the log below shows it when done.")
                % {"store": rule.get_store_display().capitalize()},
            )
        else:
            messages.success(
                request,
                _("%(store)s: %(n)s rows purged.")
                % {"store": rule.get_store_display().capitalize(), "n": log.rows},
            )
        return HttpResponseRedirect(reverse("gdpr:retention"))
