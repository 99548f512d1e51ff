"""The Field Mapping step's work for the wizard view: the sample it shows (the newest file the
connector would take, one the user picked from the listing, or the first bytes of an uploaded
file, which the wizard's session keeps), the mapping it suggests from the sample's columns, and
Check sample, whose summary the session keeps for Review.

The sample is read with the settings the earlier steps hold (step 4's secret decrypted only in
memory, by the Source) and nothing is saved, claimed, moved or written: see ingest.sampling
and ingest.dry_run.
"""

import base64
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.conf import settings

from connectors.aws import S3AccessError
from connectors.models import Connector
from connectors.sources.base import Source
from entities.models import EntityType
from ingest.dry_run import DryRun, check_rows
from ingest.s3.client import layout_of
from ingest.sampling import (
    Head,
    Listing,
    Preview,
    Sample,
    head_of_upload,
    matching_files,
    read_head,
    sample_of,
)
from ingest.types import FileFailed
from wizard.automap import FieldName, automap
from wizard.forms import MAPPING_PREFIX
from wizard.steps import FIELD_MAPPING

if TYPE_CHECKING:
    from formtools.wizard.views import WizardStorage

SAMPLE = "field_mapping_sample"  # the session's choice: {"key": ...} or an upload
CHECKED = "field_mapping_checked"  # the last Check sample's summary, for Review


@dataclass(frozen=True)
class StepSettings:
    """What the earlier steps hold, as this step uses it (cleaned data)."""

    entity_type: EntityType | None
    entity_settings: Mapping[str, Any]
    source: Source
    source_settings: Mapping[str, Any]
    external_id: str
    connector_id: int | None

    def checked_with(self, mapping: Mapping[str, str]) -> dict[str, Any]:
        """The settings a check's counts depend on (Review says when they changed)."""
        names = ("integration_type", "error_tolerance", "sync_delete_limit_percent")
        return {
            "entity": self.entity_type.pk if self.entity_type else None,
            "mapping": dict(mapping),
            **{name: self.entity_settings.get(name) for name in names},
        }


@dataclass(frozen=True)
class Origin:
    """Where the sample comes from: an object of the source directory, or an upload."""

    name: str
    size: int | None
    last_modified: datetime | None = None
    uploaded: bool = False


@dataclass(frozen=True)
class SamplePage:
    """What the step shows of the source directory and of the sample."""

    listing: Listing | None = None  # None: the source cannot list, or the listing failed
    problem: str = ""  # why there is no listing or no sample, in words
    origin: Origin | None = None
    sample: Sample | None = None
    preview: Preview | None = None

    @property
    def columns(self) -> list[str]:
        return self.preview.columns if self.preview is not None else []

    @property
    def takes_upload(self) -> bool:
        """A file may be uploaded: the directory holds none the connector takes (or it could
        not be listed)."""
        return self.listing is None or not self.listing.files


class FieldMappingStep:
    """The step for one request: the sample is read once, when first asked for."""

    def __init__(self, storage: "WizardStorage", step_settings: StepSettings) -> None:
        self.storage = storage
        self.settings = step_settings
        self.limit: int = settings.WIZARD_SAMPLE_BYTES

    # --- the sample -------------------------------------------------------------------------

    @cached_property
    def page(self) -> SamplePage:
        chosen = self.storage.extra_data.get(SAMPLE) or {}
        listing, problem, client = self._listing()
        listed = None
        if listing is not None:
            listed = listing.get(chosen.get("key", "")) or listing.newest
        if listed is not None:
            origin = Origin(listed.key, listed.size, listed.last_modified)
            try:
                head = read_head(client, self._bucket(), listed.key, self.limit)
            except S3AccessError as exc:
                return SamplePage(listing, str(exc), origin)
            return self._page(listing, origin, head)
        if "upload" in chosen and (listing is None or not listing.files):
            origin = Origin(chosen["upload"], chosen.get("size"), uploaded=True)
            data = zlib.decompress(base64.b64decode(chosen["data"]))
            return self._page(listing, origin, Head(data, complete=chosen["complete"]))
        if listing is not None and not problem:
            problem = "No file in the Source Files Directory matches this connector yet."
        return SamplePage(listing, problem)

    def _listing(self) -> tuple[Listing | None, str, Any]:
        source, cleaned = self.settings.source, self.settings.source_settings
        if not cleaned:  # what step 4 holds is no longer valid (e.g. an endpoint disallowed)
            return None, "Check the Source Specific Settings (step 4) again.", None
        try:
            client = source.settings_client(cleaned, external_id=self.settings.external_id)
            where = source.settings_directories(cleaned)
            if client is None or where is None:
                return None, f"The {source.label} source cannot list its files here.", None
            pattern = self.settings.entity_settings.get("file_pattern", "")
            return matching_files(client, layout_of(where, pattern)), "", client
        except S3AccessError as exc:
            return None, str(exc), None

    def _bucket(self) -> str:
        where = self.settings.source.settings_directories(self.settings.source_settings)
        return where.bucket if where is not None else ""

    def _page(self, listing: Listing | None, origin: Origin, head: Head) -> SamplePage:
        step_2 = self.settings.entity_settings
        try:
            sample = sample_of(
                head,
                name=origin.name,
                file_format=step_2.get("file_format", "csv"),
                delimiter=step_2.get("csv_delimiter", ","),
                limit=self.limit,
            )
        except FileFailed as exc:
            return SamplePage(listing, "", origin, None, Preview([], error=str(exc)))
        return SamplePage(listing, "", origin, sample, sample.preview())

    def _forget_page(self) -> None:
        self.__dict__.pop("page", None)

    def _keep(self, name: str, value: Any) -> None:
        extra = self.storage.extra_data
        extra[name] = value
        self.storage.extra_data = extra

    def pick(self, key: str) -> str | None:
        """Sample the listed file `key`; what is wrong if it cannot be."""
        listing = self.page.listing
        if listing is None or listing.get(key) is None:
            return "Choose one of the listed files."
        self._keep(SAMPLE, {"key": key})
        self._forget_page()
        return None

    def upload(self, upload: Any) -> str | None:
        """Sample an uploaded file (its first WIZARD_SAMPLE_BYTES); what is wrong if not."""
        if upload is None:
            return "Choose a file to upload."
        if not self.page.takes_upload:
            return "The Source Files Directory holds files; choose one of them instead."
        head = head_of_upload(upload, self.limit)
        self._keep(
            SAMPLE,
            {
                "upload": str(upload.name or "upload"),
                "size": upload.size,
                "complete": head.complete,
                "data": base64.b64encode(zlib.compress(head.data)).decode("ascii"),
            },
        )
        self._forget_page()
        return None

    # --- the mapping ------------------------------------------------------------------------

    def _field_names(self) -> list[FieldName]:
        entity_type = self.settings.entity_type
        fields = entity_type.fields.all() if entity_type is not None else []
        return [FieldName(field.name, field.display_label) for field in fields]

    def suggested(self) -> dict[str, str]:
        """{field name: column}: found among the sample's columns by name (wizard.automap), or,
        without a sample, each field's own name as the column."""
        fields = self._field_names()
        columns = self.page.columns
        if not columns:
            return {field.name: field.name for field in fields}
        return automap(fields, columns)

    def remapped(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """After the sample changed: the columns chosen that it has, the suggestions for the
        rest."""
        columns = set(self.page.columns)
        if not columns:
            return dict(chosen)
        suggested = self.suggested()
        return {
            field.name: chosen[field.name]
            if chosen.get(field.name) in columns
            else suggested.get(field.name, "")
            for field in self._field_names()
        }

    # --- Check sample -----------------------------------------------------------------------

    def check(self, mapping: Mapping[str, str]) -> DryRun | str:
        """What a run of the sample's rows would do with this mapping, or why it cannot be
        checked. The summary is kept for Review."""
        page, entity_type, step_2 = (
            self.page,
            self.settings.entity_type,
            self.settings.entity_settings,
        )
        if not step_2 or entity_type is None:
            return "Check the Entity Specific Settings (step 2) again."
        if page.sample is None or page.origin is None:
            return "There is no sample to check: " + (
                page.preview.error if page.preview and page.preview.error else page.problem
            )
        result = check_rows(
            page.sample.rows(),
            entity_type=entity_type,
            integration_type=step_2["integration_type"],
            mapping=mapping,
            error_tolerance=step_2.get("error_tolerance", "0"),
            delete_limit_percent=_limit(step_2.get("sync_delete_limit_percent")),
            connector_id=self.settings.connector_id,
        )
        summary = {
            **result.summary(),
            "sample": page.origin.name,
            "cut_short": page.sample.cut_short,
            "settings": self.settings.checked_with(mapping),
        }
        self._keep(CHECKED, summary)
        return result


def saved_mapping(
    connector: Connector | None, entity_type: EntityType | None
) -> dict[str, str] | None:
    """The mapping of the connector being edited, by field (unmapped: ''), if it writes into
    the chosen entity; None otherwise."""
    if connector is None or entity_type is None or entity_type.pk != connector.entity_type_id:
        return None
    return {f.name: connector.field_mapping.get(f.name, "") for f in entity_type.fields.all()}


def with_suggestions(
    data: Any, entity_type: EntityType | None, step: Callable[[], FieldMappingStep]
) -> Any:
    """The step's posted or kept data, a field it lacks (the entity changed since) given the
    suggested column; the sample is read only if one is lacking."""
    names = [f.name for f in entity_type.fields.all()] if entity_type is not None else []
    key = f"{FIELD_MAPPING}-{MAPPING_PREFIX}{{}}"
    missing = [name for name in names if key.format(name) not in data]
    if not missing:
        return data
    suggested = step().suggested()
    data = data.copy()
    for name in missing:
        data[key.format(name)] = suggested.get(name, "")
    return data


def _limit(percent: int | None) -> int:
    return 100 if percent is None else percent


def last_check(
    storage: "WizardStorage", step_settings: StepSettings, mapping: Mapping[str, str]
) -> dict[str, Any] | None:
    """The last Check sample's summary, with `stale` set when the mapping or the settings it
    depends on changed since; None if the sample was not checked."""
    summary = storage.extra_data.get(CHECKED)
    if summary is None:
        return None
    return {**summary, "stale": summary.get("settings") != step_settings.checked_with(mapping)}
