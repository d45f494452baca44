import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.redis
def test_healthz_is_ok_with_database_and_broker(client, redis_url, settings):
    settings.CELERY_BROKER_URL = redis_url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_an_unreachable_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2@127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["broker"].startswith("error")
    assert "hunter2" not in response.content.decode()
