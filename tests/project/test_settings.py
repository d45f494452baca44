"""Settings: production refuses to start without its secrets, and passes `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, **env_overrides):
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("LEADSYNC_", "LINKEDIN_", "DJANGO_")) and k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS")
    }
    env.update(DJANGO_SETTINGS_MODULE="leadsync_project.settings", LEADSYNC_ENV_FILE="/nonexistent/.env")
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", DEBUG="False", FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_production_refuses_to_start_without_field_encryption_key():
    result = run_manage("check", DEBUG="False", SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is not set" in result.stderr


def test_malformed_encryption_key_is_a_clear_error():
    result = run_manage("leadsync", "status", DEBUG="True", FIELD_ENCRYPTION_KEY="not-a-key",
                        DATABASE_URL="sqlite:///:memory:")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY entry 1 is not a valid Fernet key" in result.stderr


def test_development_starts_with_defaults():
    result = run_manage("check")
    assert result.returncode == 0, result.stderr


def test_check_deploy_has_no_warnings_in_production():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="False",
        SECRET_KEY="prod-" + Fernet.generate_key().decode() + Fernet.generate_key().decode(),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="leadsync.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("variable", ["LINKEDIN_API_URL", "LINKEDIN_OAUTH_URL", "LEADGEN_CRM_API_URL"])
def test_every_external_url_is_configurable(variable):
    result = run_manage("shell", "-c", f"from django.conf import settings; print(settings.{variable})",
                        **{variable: "http://127.0.0.1:8123/elsewhere"})
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:8123/elsewhere" in result.stdout
