"""Structured logs (leadsync_project/logs.py): JSON lines that say which request, Celery task and
sync run they belong to, and that never carry a secret, a token or an e-mail address, whatever
the code logging them put in."""

import io
import json
import logging
from contextlib import contextmanager

import pytest
from celery import shared_task

from leads.pipeline.runs import sync_run
from leadsync_project import logs
from tests import factories

pytestmark = pytest.mark.django_db


@contextmanager
def captured(fmt="json", level=logging.DEBUG, loggers=()):
    """Root's records (and those of `loggers`, lowered to `level`) through the product's formatter
    and context filter; yields the stream."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonLineFormatter() if fmt == "json" else logs.TextFormatter())
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in loggers}
    root.addHandler(handler)
    root.setLevel(level)
    for name in loggers:
        logging.getLogger(name).setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, old in saved[1].items():
            logging.getLogger(name).setLevel(old)


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_the_log_format_is_chosen_by_leadsync_log_format():
    assert logs.logging_config(fmt="json", level="INFO")["handlers"]["console"]["formatter"] == "json"
    assert logs.logging_config(fmt="text", level="INFO")["handlers"]["console"]["formatter"] == "text"
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="LEADSYNC_LOG_FORMAT"):
        logs.logging_config(fmt="yaml", level="INFO")


def test_a_request_keeps_the_proxys_request_id_in_its_records_and_its_answer(client):
    with captured() as stream:
        response = client.get("/metrics", HTTP_X_REQUEST_ID="edge-42.a")  # 403: Django logs a warning
    assert response.status_code == 403
    assert response["X-Request-ID"] == "edge-42.a"
    records = [r for r in lines(stream) if r["logger"] == "django.request"]
    assert records and all(r["request_id"] == "edge-42.a" for r in records)
    assert records[0]["level"] == "WARNING" and records[0]["message"] == "Forbidden: /metrics"


def test_a_request_without_a_usable_id_gets_a_new_one(client):
    forged = 'x"\n{"level": "CRITICAL"}'
    with captured() as stream:
        first = client.get("/metrics", HTTP_X_REQUEST_ID=forged)
        second = client.get("/metrics")
    ids = {first["X-Request-ID"], second["X-Request-ID"]}
    assert len(ids) == 2 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert {r["request_id"] for r in lines(stream) if r["logger"] == "django.request"} == ids
    assert "CRITICAL" not in stream.getvalue()


def test_records_after_a_response_do_not_carry_its_request_id(client):
    client.get("/healthz")
    with captured() as stream:
        logging.getLogger("leads").info("later")
    assert lines(stream)[0]["request_id"] is None


def test_records_of_a_sync_run_carry_its_run_and_integration():
    integration = factories.integration()
    with captured() as stream:
        with sync_run(integration=integration, trigger="manual") as run:
            logging.getLogger("leads.pipeline").info("inside")
        logging.getLogger("leads.pipeline").info("after")
    inside, after = lines(stream)
    assert (inside["run_id"], inside["integration_id"]) == (run.pk, integration.pk)
    assert (after["run_id"], after["integration_id"]) == (None, None)


def test_records_of_pages_read_ahead_in_a_thread_carry_the_callers_run():
    from connectors.ahead import pages_ahead

    def pages():
        for n in range(2):
            logging.getLogger("connectors.linkedin").info("page %s fetched", n)
            yield n

    with captured() as stream:
        with logs.log_context(run_id=41, integration_id=5):
            assert list(pages_ahead(pages(), depth=1)) == [0, 1]
    fetched = [r for r in lines(stream) if r["message"].startswith("page ")]
    assert len(fetched) == 2 and all((r["run_id"], r["integration_id"]) == (41, 5) for r in fetched)


@shared_task(name="tests.logging_task")
def logging_task():
    logging.getLogger("leads.tasks").info("working")
    return "ok"


def test_records_of_a_celery_task_carry_its_id_and_name():
    with captured() as stream:
        result = logging_task.apply(task_id="task-1234")
        logging.getLogger("leads.tasks").info("outside")
    working, outside = [r for r in lines(stream) if r["message"] in ("working", "outside")]
    assert result.get() == "ok"
    assert (working["task_id"], working["task"]) == ("task-1234", "tests.logging_task")
    assert (outside["task_id"], outside["task"]) == (None, None)


def test_unicode_stays_readable_and_a_unicode_address_is_redacted_too():
    with captured() as stream:
        logging.getLogger("leads").info("lead for Zoë Øster, zoë.øster@exämple.de")
    assert lines(stream)[0]["message"] == "lead for Zoë Øster, [email]"


def test_the_text_format_shows_the_context_that_is_set():
    with captured(fmt="text") as stream:
        with logs.log_context(run_id=7):
            logging.getLogger("leads").warning("slow")
    assert stream.getvalue().rstrip().endswith("WARNING leads: slow [run_id=7]")


# --- Redaction ----------------------------------------------------------------------------------

LINKEDIN_TOKEN = "AQV8dSP_W41_UPs5ioT_t8HESyODB4FqbkJ8LrV_5mff4gPODzOYR"


@pytest.mark.parametrize("text, secret", [
    ("lead from jane.doe+events@example.co.uk failed", "jane.doe+events@example.co.uk"),
    ("Authorization: Bearer abc.def-123", "abc.def-123"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("GET https://api.example.com/pubapi/v1.2/?accountID=ACC77&secretKey=5B0D9E77 200", "5B0D9E77"),
    ("GET https://api.example.com/pubapi/v1.2/?accountID=ACC77&secretKey=5B0D9E77 200", "ACC77"),
    ("body grant_type=refresh_token&refresh_token=r3fr3sh&client_secret=s3cr3t", "r3fr3sh"),
    ("body grant_type=refresh_token&refresh_token=r3fr3sh&client_secret=s3cr3t", "s3cr3t"),
    ("callback ?code=AQTFz3x9mP0vRk2LwY7dJc5bN8hQ1sUeVa4&state=x", "AQTFz3x9mP0vRk2LwY7dJc5bN8hQ1sUeVa4"),
    ("{'access_token': 'tok-1', 'expires_in': 5184000}", "tok-1"),
    ('{"secretKey": "k-2", "id": 1}', "k-2"),
    (f"token {LINKEDIN_TOKEN} refused", LINKEDIN_TOKEN),
    ("stored gAAAAABnXk2s1Jx3q9QeYkqz0sV4Qm8hP2cT7rW5uLbN1dFz", "gAAAAABnXk2s1Jx3q9QeYkqz0sV4Qm8hP2cT7rW5uLbN1dFz"),
])
def test_redaction_removes_secrets_tokens_and_email_addresses(text, secret):
    assert secret not in logs.redact(text)


def test_redaction_removes_the_configured_secrets(settings):
    settings.LINKEDIN_CLIENT_SECRET = "plainsecretwords"
    settings.LEADSYNC_METRICS_TOKEN = "scrape-me-please"
    line = logs.redact("signature computed with plainsecretwords, scraped with scrape-me-please")
    assert "plainsecretwords" not in line and "scrape-me-please" not in line


@pytest.mark.parametrize("text", [
    "integration 12: pushed 500 leads, error_code=107 on 3",
    "CRM answered code=107 (rate limit) for 3 objects",
    "basic mapping failed: the field is a basic text",
    "urn:li:leadGenFormResponse:9f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
    "task 0c1d2e3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a succeeded in 0.5s",
    "digest 3f786850e387550fdab836ed7e6dc881de23001b",
    "window 2026-12-02T14:28:13.123456+00:00 to 2026-12-02T15:28:13+00:00",
    "leads.pipeline.sync.integration_sync ended: ConnectionRefusedError",
])
def test_redaction_keeps_what_an_operator_needs(text):
    assert logs.redact(text) == text


def test_a_json_line_is_redacted_whole_and_leaves_out_objects_like_the_request(rf):
    record_request = rf.get("/admin/?q=someone@example.com&code=XYZ")
    with captured() as stream:
        try:
            raise ValueError(f"CRM refused {LINKEDIN_TOKEN}")
        except ValueError:
            logging.getLogger("leads").exception("push of ann@example.org failed", extra={
                "request": record_request, "secretKey": "in-an-extra", "count": 3})
    text = stream.getvalue()
    (record,) = lines(stream)
    for secret in (LINKEDIN_TOKEN, "ann@example.org", "someone@example.com", "XYZ", "in-an-extra"):
        assert secret not in text
    assert "request" not in record and record["count"] == 3
    assert record["message"] == "push of [email] failed" and "ValueError" in record["exc_info"]
