from django.apps import AppConfig


class MappingsConfig(AppConfig):
    verbose_name = "Integrations and mappings"
    name = "mappings"

    def ready(self):
        # A new form version gives the live integrations of its form mapping rows for what it added.
        from connectors.models import LeadForm
        from connectors.signals import form_version_stored
        from mappings.services import integrations_review_form_version

        form_version_stored.connect(integrations_review_form_version, sender=LeadForm,
                                    dispatch_uid="mappings.review_form_version")
