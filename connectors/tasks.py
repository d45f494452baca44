"""Celery tasks of the connectors app: thin, over connectors.heartbeat."""

from celery import shared_task

from connectors import heartbeat


@shared_task(name="connectors.heartbeat")
def heartbeat_all():
    """The beat-scheduled token heartbeat (LGF-002) for every LinkedIn connection."""
    return heartbeat.connections_heartbeat()
