from django.apps import AppConfig


class SandboxCrmConfig(AppConfig):
    name = "sandbox.crm"
    label = "sandbox_crm"
    verbose_name = "Sandbox: Lead Gen & CRM"
