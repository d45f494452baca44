"""What the lead admins share."""

from django.contrib import messages
from django.db import transaction


def queue_after_commit(modeladmin, request, calls, done_message):
    """Run each zero-argument `call` (a task's .delay) once the transaction commits and tell the
    user `done_message`. A broker that cannot be reached is reported, not swallowed (and False
    returned; True once queued)."""
    try:
        for call in calls:
            transaction.on_commit(call)
    except Exception as exc:  # noqa: BLE001 - the broker's many failure types
        modeladmin.message_user(request, f"Could not queue the work: {type(exc).__name__}. Is the broker running?",
                                messages.ERROR)
        return False
    modeladmin.message_user(request, done_message)
    return True
