from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from leads.views import linkedin_webhook
from leadsync_project.metrics import metrics_view
from leadsync_project.views import healthz

admin.site.site_header = admin.site.site_title = "LeadSync"
admin.site.index_title = "Leads, integrations and connections"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("linkedin/webhook/", linkedin_webhook, name="linkedin_webhook"),
    path("linkedin/", include("connectors.urls")),
]

if settings.LEADSYNC_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
