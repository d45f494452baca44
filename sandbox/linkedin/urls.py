"""Mounted at /sandbox/linkedin/. The product sets LINKEDIN_API_URL to that prefix (and appends
/rest/… and /v2/…) and LINKEDIN_OAUTH_URL to its oauth/v2/."""

from django.urls import path

from .views import controls, lead_forms, lead_responses, notifications, oauth, organizations, pages, profile

app_name = "sandbox_linkedin"

urlpatterns = [
    # OAuth 2.0
    path("oauth/v2/authorization", oauth.authorization, name="authorization"),
    path("oauth/v2/accessToken", oauth.access_token, name="access_token"),
    path("oauth/v2/introspectToken", oauth.introspect_token, name="introspect_token"),
    # Member
    path("v2/userinfo", profile.userinfo, name="userinfo"),
    path("v2/me", profile.me, name="me"),
    # Versioned marketing API
    path("rest/organizationAcls", organizations.organization_acls, name="organization_acls"),
    path("rest/organizations", organizations.organizations, name="organizations"),
    path("rest/organizations/<int:org_id>", organizations.organization_detail, name="organization"),
    path("rest/adAccounts", organizations.ad_accounts, name="ad_accounts"),
    path("rest/events", organizations.events, name="events"),
    path("rest/leadForms", lead_forms.lead_forms, name="lead_forms"),
    path("rest/leadForms/<str:key>", lead_forms.lead_form_detail, name="lead_form"),
    path("rest/leadFormResponses", lead_responses.lead_form_responses, name="lead_form_responses"),
    path("rest/leadFormResponses/<str:key>", lead_responses.lead_form_response_detail, name="lead_form_response"),
    path("rest/leadNotifications", notifications.lead_notifications, name="lead_notifications"),
    path("rest/leadNotifications/<int:sub_id>", notifications.lead_notification_detail, name="lead_notification"),
    # The sandbox's own controls and pages
    path("_faults", controls.faults, name="faults"),
    path("_leads", controls.leads, name="leads"),
    path("_leads/<str:lead_id>", controls.lead_detail, name="lead_delete"),
    path("", pages.index, name="index"),
    path("events/<int:event_id>/register", pages.event_register, name="event_register"),
]
