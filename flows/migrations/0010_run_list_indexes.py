"""Indexes for the run history across flows: newest first, whole or narrowed by status or trigger."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0009_webhook_ids_progress_changes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="run",
            index=models.Index(fields=["-queued_at", "-id"], name="flows_run_recent"),
        ),
        migrations.AddIndex(
            model_name="run",
            index=models.Index(fields=["status", "-queued_at", "-id"], name="flows_run_status_recent"),
        ),
        migrations.AddIndex(
            model_name="run",
            index=models.Index(fields=["trigger", "-queued_at", "-id"], name="flows_run_trigger_recent"),
        ),
    ]
