"""The sandbox is mounted under /sandbox/ only when LEADSYNC_SANDBOX is on.

Point the product at it with LINKEDIN_API_URL=<site>/sandbox/linkedin,
LINKEDIN_OAUTH_URL=<site>/sandbox/linkedin/oauth/v2 and a CRM connection URL of
<site>/sandbox/crm/pubapi/v1.2/.
"""

from django.urls import include, path

urlpatterns = [
    path("linkedin/", include("sandbox.linkedin.urls")),
    path("crm/", include("sandbox.crm.urls")),
]
