from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    verbose_name = "Connections"
    name = "connectors"

    def ready(self):
        # A malformed FIELD_ENCRYPTION_KEY is a startup error, not a surprise at the first token.
        from connectors import crypto

        crypto.validate_settings()
