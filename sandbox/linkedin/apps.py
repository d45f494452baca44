from django.apps import AppConfig


class SandboxLinkedInConfig(AppConfig):
    name = "sandbox.linkedin"
    label = "sandbox_linkedin"
    verbose_name = "Sandbox: LinkedIn"
