from django.apps import AppConfig


class LeadsConfig(AppConfig):
    verbose_name = "Leads and sync runs"
    name = "leads"
