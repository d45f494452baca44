from django.urls import path, re_path

from . import views

app_name = "sandbox_crm"

urlpatterns = [
    # The product is configured with .../pubapi/v1.2/ but a URL without the slash must not turn into a
    # redirect (a POST body would be lost), so both spellings are served directly.
    re_path(r"^pubapi/v1\.2/?$", views.pubapi, name="pubapi"),
    path("_faults", views.faults, name="faults"),
]
