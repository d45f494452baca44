"""The LinkedIn connect flow's two web endpoints (LGF-001). The work is in `connectors.oauth_flow`;
these views only check who is asking, turn outcomes into admin messages and redirect.

Neither view ever puts the authorization code or a token in a message, a log line or a URL it
builds."""

import logging
from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from connectors.exceptions import ApiError, OAuthError
from connectors.models import LinkedInConnection
from connectors.oauth_flow import (
    linkedin_authorization_finish,
    linkedin_authorization_start,
    linkedin_authorization_state_consume,
    linkedin_redirect_uri,
)
from connectors.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

CONNECT_PERMISSION = "connectors.change_linkedinconnection"
CANCELLED_ERRORS = ("user_cancelled_login", "user_cancelled_authorize")


def _changelist():
    return reverse("admin:connectors_linkedinconnection_changelist")


def _staff_callback(view):
    """Like staff_member_required, but an anonymous callback is sent to the login page with the
    changelist as `next`, not the callback URL: the single-use code must not travel through the
    login form, and the state it carries belonged to a session that is gone anyway."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not (request.user.is_active and request.user.is_staff):
            return redirect_to_login(_changelist(), login_url=reverse("admin:login"))
        return view(request, *args, **kwargs)

    return wrapped


def _require_connect_permission(request):
    if not request.user.has_perm(CONNECT_PERMISSION):
        raise PermissionDenied("Connecting a LinkedIn account needs the permission to change LinkedIn connections.")


@never_cache
@require_GET
@staff_member_required
def linkedin_connect(request):
    """Send the admin to LinkedIn's consent page with a state bound to their session."""
    _require_connect_permission(request)
    try:
        url = linkedin_authorization_start(session=request.session, redirect_uri=linkedin_redirect_uri(request=request))
    except ConfigurationError as exc:
        messages.error(request, f"LinkedIn cannot be connected yet: {exc}")
        return redirect(_changelist())
    return redirect(url)


@never_cache
@require_GET
@_staff_callback
def linkedin_callback(request):
    """Where LinkedIn sends the admin back: verify the state, then exchange the code and store
    the connection. Every failure leaves the database as it was and says what to do next."""
    _require_connect_permission(request)
    authorization = linkedin_authorization_state_consume(session=request.session, state=request.GET.get("state"))
    if authorization is None:
        logger.warning("LinkedIn callback refused: state missing, unknown, expired or already used")
        return TemplateResponse(
            request,
            "connectors/linkedin_connect_error.html",
            {
                **admin.site.each_context(request),
                "opts": LinkedInConnection._meta,
                "title": "LinkedIn sign-in not verified",
                "detail": "The sign-in could not be verified (state mismatch); start again.",
            },
            status=400,
        )

    error = request.GET.get("error")
    if error in CANCELLED_ERRORS:
        messages.warning(request, "LinkedIn consent was cancelled; nothing was changed.")
        return redirect(_changelist())
    if error or not request.GET.get("code"):
        description = request.GET.get("error_description", "")[:300] or "no authorization code was sent"
        messages.error(
            request, f"LinkedIn did not authorise LeadSync ({error or 'no code'}: {description}); nothing was changed."
        )
        return redirect(_changelist())

    try:
        connection = linkedin_authorization_finish(code=request.GET["code"], authorization=authorization)
    except ConfigurationError as exc:
        messages.error(request, f"LinkedIn cannot be connected yet: {exc} Nothing was changed.")
        return redirect(_changelist())
    except OAuthError as exc:
        messages.error(request, f"LinkedIn refused the sign-in ({exc}); nothing was changed. Start again.")
        return redirect(_changelist())
    except ApiError as exc:
        messages.error(request, f"LinkedIn could not be reached or refused the new tokens ({exc}); "
                                "nothing was changed. Start again.")
        return redirect(_changelist())

    who = connection.member_name or connection.member_urn or connection.name
    scopes = ", ".join(connection.scopes) or "none reported"
    messages.success(request, f"Connected the LinkedIn account of {who}. Granted scopes: {scopes}.")
    return redirect("admin:connectors_linkedinconnection_change", connection.pk)
