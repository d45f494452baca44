"""Celery tasks of the connectors app: thin, over connectors.heartbeat."""

from celery import shared_task

from connectors import heartbeat


@shared_task(name="connectors.heartbeat")
def heartbeat_all():
    """The beat-scheduled token heartbeat (LGF-002) for every LinkedIn connection."""
    return heartbeat.connections_heartbeat()


@shared_task(name="connectors.discover", acks_late=True)
def discover(connection_id):
    """Discovery from the admin's "Discover now": progress is written on the connection."""
    from connectors.models import LinkedInConnection
    from connectors.discovery import discovery_run

    connection = LinkedInConnection.objects.filter(pk=connection_id).first()
    return discovery_run(connection=connection) if connection else None
