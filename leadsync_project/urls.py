from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from leadsync_project.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]

if settings.LEADSYNC_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
