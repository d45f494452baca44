"""The admin of leads and what moves them: integrations (with their mapping editor, preview and
actions), leads (the review page), sync runs and lead notifications. Importing the package
registers them all."""

from leads.admin import integrations, leads, notifications, runs, schedules  # noqa: F401
