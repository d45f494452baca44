"""Who may read what, and the lead finder's filtering and paging."""

from datetime import UTC, datetime

from .models import AdAccountUser, Lead, LeadForm, LeadFormVersion, OrganizationRole


def member_can_read_owner(member, owner_key, owner_id):
    """Forms and leads of a page need an APPROVED ADMINISTRATOR or LEAD_GEN_FORMS_MANAGER role; those
    of an ad account need any role on the account."""
    if owner_key == "organization":
        return OrganizationRole.objects.filter(
            member=member, organization_id=owner_id, state=OrganizationRole.State.APPROVED,
            role__in=OrganizationRole.LEAD_ROLES,
        ).exists()
    return AdAccountUser.objects.filter(member=member, account_id=owner_id).exists()


def owner_key_and_id(owner):
    """('organization', 1) from {"organization": "urn:li:organization:1"}."""
    ((key, urn),) = owner.items()
    return key, int(urn.rsplit(":", 1)[1])


def forms_for_owner(owner_key, owner_id):
    qs = LeadForm.objects.select_related("organization", "ad_account").order_by("id")
    return qs.filter(organization_id=owner_id) if owner_key == "organization" else qs.filter(ad_account_id=owner_id)


def from_ms(ms):
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def leads_for_owner(*, owner_key, owner_id, lead_type, start_ms=None, end_ms=None, form_version=None,
                    associated_urn=None, test_only=False):
    """Leads of one owner and lead type, newest first (ties by id), with the finder's optional
    filters, as a sequence that can be measured (len) and sliced: a queryset (one COUNT and one
    page read per request, whatever the owner's size), or a list when the associated entity is
    filtered (the filter reads JSON).

    The time range is [start, end): overlapping pull windows meet without gaps.
    """
    qs = Lead.objects.filter(lead_type=lead_type)
    qs = qs.filter(organization_id=owner_id) if owner_key == "organization" else qs.filter(ad_account_id=owner_id)
    if start_ms is not None:
        qs = qs.filter(submitted_at__gte=from_ms(start_ms))
    if end_ms is not None:
        qs = qs.filter(submitted_at__lt=from_ms(end_ms))
    if form_version is not None:
        form_id, version = form_version
        qs = qs.filter(form_version__form_id=form_id, form_version__version=version)
    if test_only:
        qs = qs.filter(test_lead=True)
    qs = qs.order_by("-submitted_at", "id")
    if associated_urn is not None:
        ids = [pk for pk, entity in qs.values_list("id", "associated_entity")
               if associated_urn in (entity or {}).values()]
        return _Leads(ids)
    return _Counted(qs)


def leads_with_versions(ids):
    """The leads of `ids` in that order, each with its form version (and the version's form) attached.

    Two small queries whatever the page: the rows by primary key, then the few versions they answer
    in one go. Joining the version to every row (select_related) decoded its large JSON fields once
    per lead instead of once per version.
    """
    by_id = Lead.objects.in_bulk(ids)
    return _attach_versions([by_id[pk] for pk in ids if pk in by_id])


def _attach_versions(leads):
    # Only what serializers.lead reads of a version: its URN, questions, legal info and form locale.
    versions = (
        LeadFormVersion.objects.select_related("form")
        .only("form_id", "version", "questions", "legal_info", "form__locale")
        .in_bulk({lead.form_version_id for lead in leads})
    )
    for lead in leads:
        lead.form_version = versions[lead.form_version_id]
    return leads


class _Counted:
    """A queryset whose length is counted once (len() of a queryset would load every row).

    A slice picks the page's ids in a subquery (an index-only scan of sbx_li_lead_org_page or
    sbx_li_lead_account_page, so a deep OFFSET skips index entries, not rows) and reads only those
    leads, then their form versions (leads_with_versions).
    """

    def __init__(self, qs):
        self.qs, self._len = qs, None

    def __len__(self):
        if self._len is None:
            self._len = self.qs.count()
        return self._len

    def __getitem__(self, key):
        page = self.qs.values("id")[key]
        return _attach_versions(list(Lead.objects.filter(id__in=page).order_by("-submitted_at", "id")))


class _Leads:
    """Lead ids in order; a slice loads only its own leads."""

    def __init__(self, ids):
        self.ids = ids

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, key):
        return leads_with_versions(self.ids[key])


# --- short pages ----------------------------------------------------------------------------------
#
# With short pages on, the finder behaves as if every fifth position of the result held a lead that
# LinkedIn filtered out after fetching the page: positions are counted with these holes, `total`
# counts positions, and a page covering a hole comes back one element short although more follow.
# A client that pages by `start += count` until `start >= total` (or an empty page) gets every lead
# once; one that stops on the first short page loses the rest.

HOLE_EVERY = 5


def virtual_length(n):
    return n + max(0, (n - 1) // (HOLE_EVERY - 1)) if n else 0


def virtual_position(index):
    return index + index // (HOLE_EVERY - 1)


def short_page(items, start, count):
    """(elements of positions [start, start+count), total positions) with holes, for count >= 3."""
    end = start + count
    first = max(0, (start * (HOLE_EVERY - 1)) // HOLE_EVERY - 1)
    indexes = []
    for index in range(first, len(items)):
        position = virtual_position(index)
        if position >= end:
            break
        if position >= start:
            indexes.append(index)
    window = items[indexes[0]: indexes[-1] + 1] if indexes else []
    return window, virtual_length(len(items))
