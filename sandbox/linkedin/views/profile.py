"""Member heartbeats under v2/: OpenID userinfo and the classic /me. Unversioned, like LinkedIn's."""

from .. import serializers
from ..api import access_denied, api_view, require_scope, restli_json


@api_view(versioned=False)
def userinfo(request, params):
    granted = set(request.li_token.grant.scopes)
    if not {"openid", "profile"} <= granted:
        raise access_denied("Not enough permissions to access /userinfo: the token needs the scopes openid and profile")
    return restli_json(serializers.member_userinfo(request.li_member, granted))


@api_view(versioned=False)
def me(request, params):
    require_scope(request, "profile", "r_liteprofile", "r_basicprofile")
    return restli_json(serializers.member_me(request.li_member))
