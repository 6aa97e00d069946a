import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from integration_hub.context import acting_as
from integration_hub.roles import INTEGRATION_ADMIN, ensure_roles


class Command(BaseCommand):
    help = (
        "Migrate every configured database, create the roles and, with --demo-admin, on first run a "
        "demo admin account whose password is printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo-admin", action="store_true", help="Create the demo admin account if missing."
        )
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--demo-systems",
            action="store_true",
            help=(
                "Register the sandbox systems (make run starts them) with their working credentials, "
                "turn on the shop's webhooks, and create the template flows between them, enabled on "
                "their schedules (stock once the catalog has run; flows a person paused stay paused)."
            ),
        )

    def handle(self, *args, demo_admin, username, demo_systems, **options):
        for alias in settings.DATABASES:
            # channels-lite keeps its messages in a database of its own (the embedded default).
            call_command("migrate", database=alias, interactive=False, verbosity=0)
        with acting_as(None, source="command:bootstrap"):
            ensure_roles()
            from gdpr.taxonomy import ensure_taxonomy

            ensure_taxonomy()  # the register's categories and purposes (also seeded by gdpr's 0002 migration)
            if demo_admin:
                self.ensure_demo_admin(username)
            if demo_systems:
                from flows.demo import ensure_demo_systems

                owner = get_user_model().objects.filter(username=username).first()
                for system in ensure_demo_systems(owner):
                    self.stdout.write(f"Demo system registered: {system.name}")
                from flows.blueprints import ensure_demo_flows

                for flow in ensure_demo_flows(owner):
                    self.stdout.write(f"Demo flow created: {flow.name}")
                from monitoring.demo import ensure_demo_alert_rules

                for rule in ensure_demo_alert_rules(owner):
                    self.stdout.write(f"Demo alert rule created: {rule.name}")
                self.wire_demo(owner)

    def wire_demo(self, owner):
        from django.utils.translation import gettext

        from flows import demo

        if demo.configure_demo_webhooks() is not None:
            self.stdout.write(gettext("Demo shop webhooks turned on (orders trigger the orders flow)."))
        for flow in demo.enable_demo_flows(owner):
            self.stdout.write(
                gettext("Demo flow enabled: %(name)s (%(trigger)s)")
                % {"name": flow.name, "trigger": demo.describe_trigger(flow)}
            )
        for key in demo.waiting_demo_flows():
            flow = demo.demo_flow(key)
            self.stdout.write(
                gettext("Demo flow %(name)s is enabled once %(first)s has run.")
                % {"name": flow.name, "first": demo.demo_flow(demo.WAITS_FOR[key]).name}
            )

    def ensure_demo_admin(self, username):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Demo admin '{username}' exists; its password was printed when it was created.\n"
                f"Forgot it? .venv/bin/python manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(
            username=username, email=f"{username}@localhost", password=password
        )
        user.groups.add(Group.objects.get(name=INTEGRATION_ADMIN))
        bar = "=" * 64
        self.stdout.write(
            self.style.SUCCESS(
                f"\n{bar}\n  Demo admin account (shown once — note it now)\n"
                f"    user name: {username}\n    password:  {password}\n{bar}\n"
            )
        )
