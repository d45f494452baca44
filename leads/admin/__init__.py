"""The admin of leads and what moves them: discovered forms with their next step (the discovery
overview, the Enable page), integrations (with their mapping editor, preview and actions), leads
(the review page, each form's table, CSV exports), sync runs, lead notifications, the privacy
pages (one person exported or erased, and the audit of those requests), and the beat schedules'
actions behind their permission. Importing the package registers them all."""

from leads.admin import forms, integrations, leads, notifications, people, runs, schedules  # noqa: F401
