from connectors.linkedin.restli import (
    Encoded,
    build_query,
    encode_path_key,
    encode_urn,
    restli_list,
    restli_record,
)

VERSIONED_FORM = "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987,1)"


def test_a_bare_urn_is_fully_encoded():
    assert encode_urn(VERSIONED_FORM) == (
        "urn%3Ali%3AversionedLeadGenForm%3A%28urn%3Ali%3AleadGenForm%3A987%2C1%29"
    )


def test_a_path_key_encodes_restli_syntax():
    assert encode_path_key("(a:b,c)") == "%28a%3Ab%2Cc%29"
    assert encode_path_key(6773094140390494208) == "6773094140390494208"


def test_a_record_keeps_its_syntax_raw_and_encodes_the_urn_inside():
    assert restli_record(sponsoredAccount="urn:li:sponsoredAccount:123") == (
        "(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A123)"
    )


def test_time_range_and_union_records():
    assert restli_record(start=1700000000000, end=1700086400000) == "(start:1700000000000,end:1700086400000)"
    assert restli_record(leadType="EVENT") == "(leadType:EVENT)"


def test_none_fields_are_left_out_of_a_record():
    assert restli_record(start=1700000000000, end=None) == "(start:1700000000000)"


def test_lists_and_nested_records():
    assert restli_list([123, 456]) == "List(123,456)"
    search = restli_record(status=restli_record(values=restli_list(["ACTIVE"])), test=False)
    assert search == "(status:(values:List(ACTIVE)),test:false)"
    owner = restli_record(value=restli_record(organization="urn:li:organization:1"))
    assert owner == "(value:(organization:urn%3Ali%3Aorganization%3A1))"


def test_plain_dicts_and_lists_nest_like_records_and_lists():
    assert restli_record(search={"status": {"values": ["ACTIVE"]}}) == "(search:(status:(values:List(ACTIVE))))"


def test_encoded_fragments_are_never_encoded_twice():
    owner = restli_record(organization="urn:li:organization:1")
    assert isinstance(owner, Encoded)
    assert restli_record(value=owner) == "(value:(organization:urn%3Ali%3Aorganization%3A1))"
    assert encode_urn(encode_urn("urn:li:event:1")) == "urn%3Ali%3Aevent%3A1"


def test_build_query_joins_in_order_and_skips_none():
    query = build_query(
        [
            ("q", "owner"),
            ("owner", restli_record(organization="urn:li:organization:5509810")),
            ("versionedLeadGenFormUrn", VERSIONED_FORM),
            ("associatedEntity", None),
            ("limitedToTestLeads", False),
            ("count", 10),
            ("start", 0),
        ]
    )
    assert query == (
        "q=owner&owner=(organization:urn%3Ali%3Aorganization%3A5509810)"
        "&versionedLeadGenFormUrn=urn%3Ali%3AversionedLeadGenForm%3A%28urn%3Ali%3AleadGenForm%3A987%2C1%29"
        "&limitedToTestLeads=false&count=10&start=0"
    )


def test_build_query_encodes_plain_strings_that_could_break_the_query():
    assert build_query([("webhook", "https://x.test/a?b=c&d")]) == "webhook=https%3A%2F%2Fx.test%2Fa%3Fb%3Dc%26d"
