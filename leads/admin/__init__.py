"""The admin of leads and what moves them: discovered forms with their next step (the discovery
overview, the Enable page), integrations (with their mapping editor, preview and actions), leads
(the review page), sync runs and lead notifications. Importing the package
registers them all."""

from leads.admin import forms, integrations, leads, notifications, runs  # noqa: F401
