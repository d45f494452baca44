"""OAuth 2.0 endpoints under oauth/v2/: the consent page, the token endpoint and introspection.

These are form-encoded OAuth, not Rest.li: errors are {"error", "error_description"}, and a bad
authorization request shows an error page instead of redirecting (never redirect to an unchecked URI).
"""

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import tokens
from ..models import Member, SandboxSettings

SCOPE_DESCRIPTIONS = {
    "r_marketing_leadgen_automation": "Access your lead gen forms and retrieve leads",
    "r_events_leadgen_automation": "Retrieve your organizations' events and the leads of those events",
    "r_organization_admin": "Retrieve your organizations' pages and their reporting data",
    "rw_organization_admin": "Manage your organizations' pages",
    "r_ads": "Retrieve your advertising accounts",
    "rw_ads": "Manage your advertising accounts",
    "r_events": "Retrieve your organizations' events",
    "rw_events": "Manage your organizations' events",
    "openid": "Use your name and photo (OpenID Connect)",
    "profile": "Use your name and photo",
    "email": "Use the primary email address associated with your LinkedIn account",
}


def _with_params(uri, params):
    parts = urlsplit(uri)
    query = "&".join(filter(None, [parts.query, urlencode({k: v for k, v in params.items() if v is not None})]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _error_page(request, title, detail, status=400):
    return TemplateResponse(
        request, "sandbox_linkedin/oauth_error.html", {"title": title, "detail": detail}, status=status
    )


def _validate_authorization(data):
    """(error title, detail) when the request cannot be shown to the member, else (None, scopes)."""
    if data.get("response_type") != "code":
        return "invalid_request", "response_type must be 'code'.", None
    if not data.get("client_id"):
        return "invalid_request", "A required parameter \"client_id\" is missing.", None
    if data["client_id"] != settings.LINKEDIN_CLIENT_ID:
        return "invalid_client", f"The client_id {data['client_id']!r} is not a registered application.", None
    redirect_uri = data.get("redirect_uri", "")
    if not redirect_uri:
        return "invalid_request", "A required parameter \"redirect_uri\" is missing.", None
    if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
        return "invalid_redirect_uri", f"The redirect_uri {redirect_uri!r} is not an absolute http(s) URL.", None
    scopes = [s for s in data.get("scope", "").split(" ") if s]
    if not scopes:
        return "invalid_scope", "A required parameter \"scope\" is missing.", None
    unknown = [s for s in scopes if s not in tokens.KNOWN_SCOPES]
    if unknown:
        return "unauthorized_scope_error", f"Scope {', '.join(repr(s) for s in unknown)} is not authorized for " \
            "your application (scopes are space-separated).", None
    return None, None, list(dict.fromkeys(scopes))


@require_http_methods(["GET", "POST"])
def authorization(request):
    """The consent page. GET shows it (or approves at once with auto_approve); POST is the member's
    Allow / Cancel."""
    data = request.GET if request.method == "GET" else request.POST
    title, detail, scopes = _validate_authorization(data)
    if title:
        return _error_page(request, title, detail)
    members = list(Member.objects.order_by("id"))
    if not members:
        return _error_page(request, "no_member", "The sandbox has no LinkedIn members yet: run "
                           "`python manage.py sandbox_seed` first.", status=503)
    member = next((m for m in members if m.person_id == data.get("member")), members[0])
    redirect_uri, state = data["redirect_uri"], data.get("state")

    approve = request.method == "POST" and data.get("action") == "allow"
    if request.method == "GET" and (data.get("auto_approve") in ("1", "true") or SandboxSettings.load().auto_approve):
        approve = True
    if approve:
        code = tokens.authorization_code_issue(
            member=member, client_id=data["client_id"], redirect_uri=redirect_uri, scopes=scopes
        )
        return HttpResponseRedirect(_with_params(redirect_uri, {"code": code.code, "state": state}))
    if request.method == "POST":
        return HttpResponseRedirect(_with_params(redirect_uri, {
            "error": "user_cancelled_authorize",
            "error_description": "The user cancelled the authorization",
            "state": state,
        }))
    context = {
        "members": members,
        "member": member,
        "scopes": [(s, SCOPE_DESCRIPTIONS.get(s, s)) for s in scopes],
        "params": {k: data.get(k) for k in ("response_type", "client_id", "redirect_uri", "state") if data.get(k)}
        | {"scope": " ".join(scopes)},
        "redirect_host": urlsplit(redirect_uri).netloc,
    }
    return TemplateResponse(request, "sandbox_linkedin/consent.html", context)


def _oauth_error(exc):
    return JsonResponse(exc.as_dict(), status=exc.status)


def _missing(data, *names):
    for name in names:
        if not data.get(name):
            raise tokens.OAuthError(400, "invalid_request", f'A required parameter "{name}" is missing')


@csrf_exempt
@require_POST
def access_token(request):
    """Code exchange and refresh. Form-encoded only, like LinkedIn (a JSON body has no parameters)."""
    data = request.POST
    try:
        _missing(data, "grant_type")
        grant_type = data["grant_type"]
        if grant_type == "authorization_code":
            _missing(data, "code", "redirect_uri", "client_id", "client_secret")
            issued = tokens.code_exchange(
                code=data["code"], redirect_uri=data["redirect_uri"], client_id=data["client_id"],
                client_secret=data["client_secret"],
            )
        elif grant_type == "refresh_token":
            _missing(data, "refresh_token", "client_id", "client_secret")
            issued = tokens.token_refresh(
                refresh_token=data["refresh_token"], client_id=data["client_id"], client_secret=data["client_secret"]
            )
        else:
            raise tokens.OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    except tokens.OAuthError as exc:
        return _oauth_error(exc)
    return JsonResponse(issued.as_response())


@csrf_exempt
@require_POST
def introspect_token(request):
    data = request.POST
    try:
        _missing(data, "client_id", "token")
        return JsonResponse(tokens.token_introspect(
            token=data["token"], client_id=data["client_id"], client_secret=data.get("client_secret", "")
        ))
    except tokens.OAuthError as exc:
        return _oauth_error(exc)
