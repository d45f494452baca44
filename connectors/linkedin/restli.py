"""Rest.li 2.0: query strings, built by hand, and unions, read.

Rest.li wants its syntax characters `( ) , :` raw and everything inside them percent-encoded:
`owner=(organization:urn%3Ali%3Aorganization%3A1)`. Generic URL builders (requests' `params=`,
`urlencode`) either encode the syntax as well or encode the encoded URN a second time, and LinkedIn
answers 400. So every value is encoded exactly once here, the result is marked `Encoded`, and
`build_query` joins fragments verbatim. Plain Python values (str, int, bool, dict, list) are
encoded on the way in; `Encoded` fragments are never touched again.
"""

from urllib.parse import quote


class Encoded(str):
    """A query fragment that is already encoded and must be passed through as is."""

    __slots__ = ()


def encode(value):
    """One scalar with every reserved character percent-encoded: a bare URN, a path key, or a
    string inside a record (`urn:li:x:(a,1)` -> `urn%3Ali%3Ax%3A%28a%2C1%29`). Booleans are
    Rest.li's `true`/`false`."""
    if isinstance(value, Encoded):
        return value
    if isinstance(value, bool):
        return Encoded("true" if value else "false")
    return Encoded(quote(str(value), safe=""))


# The same rule under the names that say where it is used.
encode_urn = encode
encode_path_key = encode


def restli_value(value):
    """Any value in Rest.li form: dicts become records, lists and tuples `List(...)`."""
    if isinstance(value, Encoded):
        return value
    if isinstance(value, dict):
        return restli_record(**value)
    if isinstance(value, (list, tuple)):
        return restli_list(value)
    return encode(value)


def restli_record(**fields):
    """`(key:value,...)` in argument order; None fields are left out, as Rest.li has no null."""
    inner = ",".join(f"{encode(k)}:{restli_value(v)}" for k, v in fields.items() if v is not None)
    return Encoded(f"({inner})")


def restli_list(values):
    """`List(a,b)`."""
    return Encoded(f"List({','.join(restli_value(v) for v in values)})")


def build_query(pairs):
    """`k=v&k=v` from (key, value) pairs in order, without a leading `?`. None values are left
    out, so optional filters can be passed unconditionally."""
    return "&".join(f"{encode(k)}={restli_value(v)}" for k, v in pairs if v is not None)


def union_member(union):
    """(key, value) of a Rest.li union, a one-key object. The legacy API spells the key as a
    qualified record name (`com.linkedin.leadgenform.TextQuestionAnswer`), the versioned API in
    camelCase (`textQuestionAnswer`); both come back as the camelCase key so callers match one
    spelling. Anything that is not a one-key object gives (None, None)."""
    if not isinstance(union, dict) or len(union) != 1:
        return None, None
    ((key, value),) = union.items()
    key = key.rsplit(".", 1)[-1]
    return key[:1].lower() + key[1:], value
