"""The mapping editor's forms: one FieldMapping row as the admin edits it, and the formsets that
check a whole integration's mapping at once (in the Integration page's inline and in the
FieldMapping list).

The rules the forms keep are the ones a push relies on:
- a CRM field comes from the integration's CRM field catalogue (any name is accepted while the
  catalogue has not been loaded: there is nothing to check it against);
- one CRM field is set by at most one enabled source, so no value silently shadows another;
- ``emailAddress`` is mapped from an enabled source: it is the CRM's one required field and
  without it every lead fails;
- a row's transform has the option it needs, well formed, and gives what its CRM field takes
  (mappings.engine.transform_problems), so no lead meets a transform that cannot work.

Catalogues are loaded once per formset (one query for a page of rows), never once per row.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms.models import BaseInlineFormSet, BaseModelFormSet

from connectors.models import CrmConnection
from connectors.crm_connections import crm_field_catalogue
from connectors.crm.schema import EMAIL_FIELD
from mappings.engine import TRANSFORM_CHOICES, transform_problems
from mappings.models import FieldMapping

NOT_SYNCED = "— not synced —"


def crm_catalogues(connection_ids) -> dict[int, list[dict]]:
    """The field catalogue (CrmFieldInfo dicts, as the mapping engine takes them) of each of these
    CRM connections, in two queries however many connections and rows a page shows."""
    ids = {pk for pk in connection_ids if pk is not None}
    if not ids:
        return {}
    connections = CrmConnection.objects.filter(pk__in=ids).only("pk").prefetch_related("fields")
    return {connection.pk: crm_field_catalogue(connection) for connection in connections}


def integration_catalogues(integrations) -> dict[int, list[dict]]:
    """{integration id: its CRM's field catalogue} for these integrations, in two queries."""
    integrations = list(integrations)
    by_connection = crm_catalogues(i.crm_connection_id for i in integrations)
    return {i.pk: by_connection.get(i.crm_connection_id, []) for i in integrations}


def crm_field_label(info: dict) -> str:
    return f"{info['label']} ({info['system_name']})"


def crm_field_choices(catalogue: list[dict], current: str = "") -> list:
    """"— not synced —", then the standard and the custom fields as "Label (systemName)". A current
    value the catalogue lacks (a field deleted in the CRM since) is kept as an option so that it
    shows as it is rather than as another field; saving it is refused with a reason."""
    standard = [(f["system_name"], crm_field_label(f)) for f in catalogue if not f.get("is_custom")]
    custom = [(f["system_name"], crm_field_label(f)) for f in catalogue if f.get("is_custom")]
    choices: list = [("", NOT_SYNCED)]
    if standard:
        choices.append(("Standard fields", sorted(standard, key=lambda c: c[1].casefold())))
    if custom:
        choices.append(("Custom fields", sorted(custom, key=lambda c: c[1].casefold())))
    if current and current not in {f["system_name"] for f in catalogue}:
        choices.append(("Not in the CRM's catalogue", [(current, f"{current} (not in the CRM's field catalogue)")]))
    return choices


def transform_choices(current: str = "") -> list:
    choices = list(TRANSFORM_CHOICES)
    if current and current not in dict(choices):
        choices.append((current, f"{current} (unknown transform)"))
    return choices


def source_name(mapping: FieldMapping) -> str:
    """How error messages name a row: its kind and what the form calls it."""
    return f"{mapping.get_source_kind_display()} “{mapping.source_label or mapping.source_key}”"


class FieldMappingForm(forms.ModelForm):
    """One mapping row: which CRM field its source goes to, through which transform. The source
    itself is read-only: rows are made by enable and recreate from the form's definition.

    `catalogues` maps integration ids to their CRM field catalogue: formsets pass the ones they
    loaded for all their rows. Without it the form loads its own (one form on its own page)."""

    class Meta:
        model = FieldMapping
        fields = ("crm_field", "transform", "transform_option", "enabled")
        help_texts = {
            "crm_field": f"The CRM field this source fills, from the CRM's field catalogue; “{NOT_SYNCED}” leaves "
                         "it out of the CRM.",
            "transform": "How the value is changed on its way to the CRM.",
            "transform_option": "Only for the transforms that take one: the constant to send, the separator to "
                                "join options with (spaces kept), the default region of phone numbers without + "
                                "(e.g. US), or a strftime pattern (e.g. %d.%m.%Y). Empty for the others.",
            "enabled": "Unticked, the source is not sent (the row is kept).",
        }

    NOT_IN_CATALOGUE = (f"%(value)s is not in the CRM's field catalogue: pick another field or “{NOT_SYNCED}” "
                        "(a field made in the CRM since the catalogue was loaded is listed once `leadsync crm add` "
                        "loads it again).")
    UNKNOWN_TRANSFORM = "%(value)s is not a transform LeadSync knows: pick one from the list."

    def __init__(self, *args, catalogues: dict[int, list[dict]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        integration_id = self.instance.integration_id
        if catalogues is None or integration_id not in catalogues:
            catalogues = integration_catalogues([self.instance.integration] if integration_id else [])
        catalogue = catalogues.get(integration_id, [])
        self.catalogue = {f["system_name"]: f for f in catalogue}
        self.catalogue_names = set(self.catalogue)
        current = self.initial.get("crm_field") or ""
        if "crm_field" in self.fields and catalogue:
            self.fields["crm_field"] = forms.ChoiceField(
                label="CRM field", required=False, choices=crm_field_choices(catalogue, current),
                help_text=self._meta.help_texts["crm_field"],
                error_messages={"invalid_choice": self.NOT_IN_CATALOGUE},
            )
        elif "crm_field" in self.fields:
            self.fields["crm_field"].help_text = (
                "The CRM field's system name; empty = not synced. The CRM's field catalogue is not loaded "
                "(`leadsync crm add` loads it), so any name is accepted."
            )
        if "transform" in self.fields:
            self.fields["transform"] = forms.ChoiceField(
                label="Transform", choices=transform_choices(self.initial.get("transform") or ""),
                help_text=self._meta.help_texts["transform"],
                error_messages={"invalid_choice": self.UNKNOWN_TRANSFORM},
            )
        if "transform_option" in self.fields:
            # Not stripped: a separator of spaces, or a constant's own spacing, is what the admin meant.
            self.fields["transform_option"] = forms.CharField(
                label="Option", required=False, strip=False, max_length=255,
                help_text=self._meta.help_texts["transform_option"],
                widget=forms.TextInput(attrs={"size": 14, "class": "ls-transform-option"}),
            )

    def clean_crm_field(self):
        value = (self.cleaned_data.get("crm_field") or "").strip()
        if value and self.catalogue_names and value not in self.catalogue_names:
            raise forms.ValidationError(self.NOT_IN_CATALOGUE, code="invalid_choice", params={"value": value})
        return value

    def clean_transform(self):
        value = self.cleaned_data.get("transform")
        if value not in dict(TRANSFORM_CHOICES):
            raise forms.ValidationError(self.UNKNOWN_TRANSFORM, code="invalid_choice", params={"value": value})
        return value

    def clean(self):
        """The row's transform against its option and its CRM field, on the column that has to
        change, in a sentence naming the row."""
        cleaned = super().clean()
        if {"crm_field", "transform", "transform_option"} & set(self.errors):
            return cleaned  # refused already: there is nothing sound to check the transform against
        row = {name: cleaned[name] if name in cleaned else getattr(self.instance, name)
               for name in ("crm_field", "transform", "transform_option", "enabled")}
        for column, problem in transform_problems(row, self.catalogue).items():
            self.add_error(column if column in self.fields else None, f"{source_name(self.instance)}: {problem}")
        return cleaned


# --- rules across the rows of one integration ------------------------------------------------------


@dataclass(frozen=True)
class RowState:
    """One mapping row as it would be saved; `key` is what the caller attaches errors to."""

    key: Any
    integration_id: int
    source: str
    crm_field: str
    enabled: bool
    was_email: bool  # an enabled emailAddress row before this change


@dataclass(frozen=True)
class WholeMapping:
    """The key of an error about an integration's mapping as a whole rather than one of its rows
    (no row maps emailAddress, and none did): editors show it above the rows."""

    integration_id: int


def mapping_conflicts(rows: list[RowState]) -> dict[Any, list[str]]:
    """The errors of a set of rows (of any number of integrations) taken together, as {row key:
    messages}, and {WholeMapping(integration id): messages} for a mapping without emailAddress
    where no row had it. Pure, so every editor applies the same rules; an editor shows the errors
    of the rows it edits (the others it passes along only so that a conflict with them is seen)."""
    errors: dict[Any, list[str]] = defaultdict(list)
    by_integration: dict[int, list[RowState]] = defaultdict(list)
    for row in rows:
        by_integration[row.integration_id].append(row)
    for integration_rows in by_integration.values():
        by_field: dict[str, list[RowState]] = defaultdict(list)
        for row in integration_rows:
            if row.enabled and row.crm_field:
                by_field[row.crm_field].append(row)
        for crm_field, sharing in by_field.items():
            if len(sharing) > 1:
                for row in sharing:
                    others = " and ".join(other.source for other in sharing if other is not row)
                    errors[row.key].append(
                        f"{crm_field} is set both by {row.source} and by {others}; a CRM field takes one source: "
                        f"choose “{NOT_SYNCED}” or untick Enabled on all but one."
                    )
        if EMAIL_FIELD in by_field:
            continue
        if any(row.was_email for row in integration_rows):
            message = (f"{EMAIL_FIELD} must stay mapped from an enabled source: it is the only field the CRM "
                       f"requires, and without it every lead fails. Map another source to it first.")
            for row in integration_rows:
                if row.was_email:
                    errors[row.key].append(message)
        else:
            errors[WholeMapping(integration_rows[0].integration_id)].append(
                f"{EMAIL_FIELD} must be mapped from an enabled source: it is the only field the CRM requires, and "
                f"without it every lead fails. Map the source that holds the e-mail address to it.")
    return dict(errors)


def whole_mapping_errors(errors: dict[Any, list[str]], names: dict[int, str] | None = None) -> list[str]:
    """The messages of `mapping_conflicts` about whole mappings, for an editor to show above its
    rows; with `names` ({integration id: name}, for an editor of several) each says whose."""
    return [f"{names[key.integration_id]}: {message}" if names else message
            for key, messages in errors.items() if isinstance(key, WholeMapping) for message in messages]


def _row_state(form: forms.ModelForm, key=None) -> RowState:
    """The row as the form would save it. What it was comes from the form's initial data (the
    instance already holds the new values once the form is cleaned); a column the form does not
    edit keeps its stored value."""
    mapping = form.instance

    def new(name):
        return form.cleaned_data[name] if name in form.cleaned_data else getattr(mapping, name)

    def old(name):
        return form.initial[name] if name in form.initial else getattr(mapping, name)

    return RowState(
        key=form if key is None else key, integration_id=mapping.integration_id, source=source_name(mapping),
        crm_field=new("crm_field") or "", enabled=bool(new("enabled")),
        was_email=old("crm_field") == EMAIL_FIELD and bool(old("enabled")),
    )


def _stored_row_state(mapping: FieldMapping) -> RowState:
    return RowState(
        key=mapping.pk, integration_id=mapping.integration_id, source=source_name(mapping),
        crm_field=mapping.crm_field, enabled=mapping.enabled,
        was_email=mapping.crm_field == EMAIL_FIELD and mapping.enabled,
    )


def _stored_rows(integration_ids, exclude_pks) -> list[RowState]:
    """The other rows of these integrations as they are stored: what an edit of some rows meets."""
    others = (FieldMapping.objects.filter(integration_id__in=integration_ids).exclude(pk__in=exclude_pks)
              .only("pk", "integration_id", "source_kind", "source_key", "source_label", "crm_field", "enabled"))
    return [_stored_row_state(mapping) for mapping in others]


def _attach(errors):
    """Put each message on the CRM field of its form; rows keyed by pk are stored ones, not on the page."""
    for key, messages in errors.items():
        if isinstance(key, forms.BaseForm):
            for message in messages:
                key.add_error("crm_field" if "crm_field" in key.fields else None, message)


class FieldMappingChangeForm(FieldMappingForm):
    """One row on its own change page: checked against the integration's other rows as stored."""

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.instance.integration_id:
            return cleaned
        rows = [_row_state(self, key="self"), *_stored_rows([self.instance.integration_id], [self.instance.pk])]
        errors = mapping_conflicts(rows)
        for message in errors.get("self", []) + whole_mapping_errors(errors):
            self.add_error("crm_field", message)
        return cleaned


class _CataloguesMixin:
    """Hands every row form the catalogues the formset loaded once (`self.catalogues`)."""

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "catalogues": self.catalogues}


class FieldMappingInlineFormSet(_CataloguesMixin, BaseInlineFormSet):
    """Every row of one integration (the Integration page's inline): its catalogue is loaded once
    for all rows, and the rows are checked together."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.catalogues = integration_catalogues([self.instance] if self.instance.pk else [])

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        forms_ = [form for form in self.forms if form.instance.pk]
        errors = mapping_conflicts([_row_state(form) for form in forms_])
        _attach(errors)
        messages = whole_mapping_errors(errors)
        if any(not isinstance(key, WholeMapping) for key in errors):
            messages.append("Some mapping rows conflict: see the messages on the rows.")
        if messages:
            raise forms.ValidationError(messages)


class FieldMappingChangelistFormSet(_CataloguesMixin, BaseModelFormSet):
    """A page of the FieldMapping list edited in place (rows of one or several integrations): one
    catalogue load for the page, and each row checked against the rest of its integration."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The rows come with their integration (the admin's queryset selects it).
        self.integrations = {row.integration_id: row.integration for row in self.get_queryset()}
        self.catalogues = integration_catalogues(self.integrations.values())

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        forms_ = [form for form in self.forms if form.instance.pk]
        integration_ids = {form.instance.integration_id for form in forms_}
        rows = [_row_state(form) for form in forms_] + _stored_rows(integration_ids, [f.instance.pk for f in forms_])
        errors = mapping_conflicts(rows)
        _attach(errors)
        names = {pk: str(integration) for pk, integration in self.integrations.items()}
        if whole := whole_mapping_errors(errors, names):
            raise forms.ValidationError(whole)
