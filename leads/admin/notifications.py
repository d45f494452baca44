"""Lead notifications: what LinkedIn's webhooks said and what LeadSync did about it."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from leads.admin.common import queue_after_commit
from leads.models import LeadNotification
from leads.tasks import process_lead_notification


@admin.register(LeadNotification)
class LeadNotificationAdmin(admin.ModelAdmin):
    """What LinkedIn's webhooks said and what LeadSync did about it. Read-only: the rows are
    LinkedIn's words; a failed one can be processed again."""

    list_display = ("__str__", "action", "state", "form_id", "lead_type", "occurred_at", "received_at",
                    "processed_at", "error")
    list_filter = ("action", "state", "lead_type")
    search_fields = ("lead_id", "form_id")
    date_hierarchy = "received_at"
    fields = ("lead_urn", "lead_id", "action", "form_id", "lead_type", "owner_urn", "occurred_at", "state", "error",
              "received_at", "processed_at", "payload_json")
    readonly_fields = fields
    actions = ["process_again"]

    def changelist_view(self, request, extra_context=None):
        waiting = LeadNotification.objects.filter(state=LeadNotification.State.RECEIVED)
        oldest = waiting.order_by("received_at").values_list("received_at", flat=True).first()
        return super().changelist_view(request, {**(extra_context or {}), "waiting": waiting.count(),
                                                 "oldest_waiting": oldest})

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            qs = qs.defer("payload")
        return qs

    def has_add_permission(self, request):
        return False

    @admin.display(description="payload")
    def payload_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description="Process the selected failed notifications again", permissions=["change"])
    def process_again(self, request, queryset):
        ids = list(queryset.filter(state__in=[LeadNotification.State.FAILED, LeadNotification.State.RECEIVED])
                   .values_list("pk", flat=True))
        if not ids:
            self.message_user(request, "None of the selected notifications has failed or is waiting.", messages.WARNING)
            return
        queue_after_commit(self, request, [lambda pk=pk: process_lead_notification.delay(pk) for pk in ids],
                           f"Queued {len(ids)} notification(s) to be processed again.")
