from django.apps import AppConfig


class MappingsConfig(AppConfig):
    verbose_name = "Integrations and mappings"
    name = "mappings"
