"""The naive baseline: what the examples in ../shared/seeds/003_*.txt do, one lead at a time.

For each finder query the product made (same owner, lead type and time range), it asks for one lead per
request (count=1, paging by start until a page comes back empty) and sends each lead to the CRM in its
own createLeads call with the example's flat parse (e-mail, first and last name). It stores nothing and
maps nothing else, so it is a generous baseline: only its HTTP round trips are measured. It talks to the
sandbox directly with requests; it does not go through the product.
"""

import json
import time
from urllib.parse import parse_qsl, urlencode

import requests

HEADERS = {"LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}


def _flat(lead):
    """Example 3's parse_lead_response, reduced to what createLeads needs."""
    parsed = {}
    for answer in lead.get("formResponse", {}).get("answers", []):
        accepted = answer.get("accepted") or answer.get("answerDetails") or {}
        text = (accepted.get("textQuestionAnswer") or {}).get("answer")
        if text is not None:
            parsed[answer.get("name") or str(answer.get("questionId"))] = text
    emails = [v for v in parsed.values() if isinstance(v, str) and "@" in v]
    return {"emailAddress": emails[0] if emails else f"{lead.get('id', 'x')}@naive.invalid",
            "firstName": parsed.get("firstName", ""), "lastName": parsed.get("lastName", "")}


def run(*, site, access_token, account_id, secret_key, finder_queries, cap=None):
    """finder_queries: the query strings of the product's first finder call of each owner and lead type."""
    session = requests.Session()
    session.headers.update({**HEADERS, "Authorization": f"Bearer {access_token}"})
    crm_url = f"{site}/sandbox/crm/pubapi/v1.2/?{urlencode({'accountID': account_id, 'secretKey': secret_key})}"
    linkedin_calls = crm_calls = leads = 0
    started = time.perf_counter()
    for query in finder_queries:
        if cap is not None and leads >= cap:
            break
        base = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in ("start", "count")]
        # Rest.li wants its own encoding of the parenthesised values: keep them as the product sent them.
        raw = "&".join(p for p in query.split("&") if p.partition("=")[0] not in ("start", "count"))
        assert base, query
        start = 0
        while cap is None or leads < cap:
            answer = session.get(f"{site}/sandbox/linkedin/rest/leadFormResponses?{raw}&start={start}&count=1",
                                 timeout=30)
            linkedin_calls += 1
            answer.raise_for_status()
            elements = answer.json().get("elements", [])
            if not elements:
                break
            start += 1
            for lead in elements:
                body = {"method": "createLeads", "params": {"objects": [_flat(lead)]}, "id": f"naive-{leads}"}
                result = session.post(crm_url, data=json.dumps(body), timeout=30,
                                      headers={"Content-Type": "application/json"})
                crm_calls += 1
                result.raise_for_status()
                leads += 1
    seconds = time.perf_counter() - started
    return {"leads": leads, "seconds": seconds, "linkedin_calls": linkedin_calls, "crm_calls": crm_calls}
