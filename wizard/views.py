"""The connector setup wizard: Entity Selection → Entity Specific Settings → Source Selection →
Source Specific Settings → Review. New connectors and edits use the same wizard."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from formtools.wizard.views import SessionWizardView

from connectors import services
from connectors.models import (
    DELETING_INTEGRATION_TYPES,
    AccessLevel,
    Connector,
    FileFormat,
    IntegrationType,
    new_external_id,
    sync_limit_text,
)
from connectors.selectors import get_connector_for
from connectors.sources import get_source
from connectors.sources.base import Source
from entities.models import EntityType
from wizard.forms import (
    MAPPING_PREFIX,
    EntitySelectionForm,
    EntitySettingsForm,
    ReviewForm,
    SourceSelectionForm,
)

SOURCE_SETTINGS = "source_settings"
STEP_TITLES = {
    "entity": "Entity Selection",
    "entity_settings": "Entity Specific Settings",
    "source": "Source Selection",
    SOURCE_SETTINGS: "Source Specific Settings",
    "review": "Review",
}
SECRET_FIELDS = ("access_key_secret",)


# Error reports never show a secret: not as a posted field, nor in any frame below dispatch
# (forms, Test connection, boto3); see config/error_reports.py.
@method_decorator(
    sensitive_post_parameters(*(f"{SOURCE_SETTINGS}-{name}" for name in SECRET_FIELDS)),
    name="dispatch",
)
@method_decorator(sensitive_variables(), name="dispatch")
class ConnectorWizard(LoginRequiredMixin, SessionWizardView):
    form_list = [
        ("entity", EntitySelectionForm),
        ("entity_settings", EntitySettingsForm),
        ("source", SourceSelectionForm),
        (SOURCE_SETTINGS, Form),  # replaced by the chosen source's settings form
        ("review", ReviewForm),
    ]
    template_name = "wizard/wizard.html"
    connector: Connector | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if "pk" in kwargs:
            self.connector = get_connector_for(request.user, kwargs["pk"], needs=AccessLevel.EDIT)
        return super().dispatch(request, *args, **kwargs)

    def get_prefix(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str:
        return f"connector_wizard_{kwargs.get('pk', 'new')}"

    # --- what each step's form gets -------------------------------------------------------

    def _entity_type(self) -> EntityType | None:
        stored = self.storage.get_step_data("entity")
        if stored is not None:
            entity_id = stored.get("entity-entity")
            return EntityType.objects.filter(pk=entity_id).first() if entity_id else None
        return self.connector.entity_type if self.connector else None

    def _source(self) -> Source:
        stored = self.storage.get_step_data("source")
        key = stored.get("source-entity_source") if stored else None
        if not key:
            key = self.connector.source_type if self.connector else "s3"
        return get_source(key)

    def _external_id(self) -> str:
        if self.connector is not None and hasattr(self.connector, "s3"):
            return self.connector.s3.external_id
        extra = self.storage.extra_data
        if "external_id" not in extra:
            extra["external_id"] = new_external_id()
            self.storage.extra_data = extra
        return extra["external_id"]

    def _stored_secret(self) -> str:
        stored = self.storage.get_step_data(SOURCE_SETTINGS)
        token = stored.get(f"{SOURCE_SETTINGS}-access_key_secret") if stored else ""
        if token:
            return token
        if self.connector is not None:
            return self._source().form_kwargs(self.connector).get("stored_secret", "")
        return ""

    def _owner(self) -> Any:
        return self.connector.owner if self.connector else self.request.user

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        people = {"actor": self.request.user, "owner": self._owner()}
        if step == "entity":
            return people
        if step == "entity_settings":
            return {"entity_type": self._entity_type(), **people}
        if step == "source":
            return {"owner": self._owner(), "connector": self.connector}
        if step == SOURCE_SETTINGS:
            return {"stored_secret": self._stored_secret(), "external_id": self._external_id()}
        return {}

    def get_form_initial(self, step: str) -> dict[str, Any]:
        connector = self.connector
        if connector is None:
            return {}
        if step == "entity":
            return {"entity": connector.entity_type_id}
        if step == "entity_settings":
            initial = {name: getattr(connector, name) for name in services.ENTITY_SETTING_NAMES}
            entity_type = self._entity_type()
            if entity_type is not None and entity_type.pk == connector.entity_type_id:
                for field in entity_type.fields.all():
                    initial[MAPPING_PREFIX + field.name] = connector.field_mapping.get(
                        field.name, ""
                    )
            return initial
        if step == "source":
            return {
                "entity_source": connector.source_type,
                "name": connector.name,
                "description": connector.description,
            }
        if step == SOURCE_SETTINGS:
            return self._source().initial_from(connector)
        return {}

    def get_form(self, step: str | None = None, data: Any = None, files: Any = None) -> Form:
        step = step or self.steps.current
        if step == "entity_settings" and data is not None:
            data = self._with_default_mapping(data)
        if step != SOURCE_SETTINGS:
            return super().get_form(step, data, files)
        form_class = self._source().settings_form
        return form_class(
            data=data,
            files=files,
            prefix=self.get_form_prefix(step, form_class),
            initial=self.get_form_initial(step),
            **self.get_form_kwargs(step),
        )

    def _with_default_mapping(self, data: Any) -> Any:
        """After the entity changes, columns for its new fields default to the field names."""
        entity_type = self._entity_type()
        if entity_type is None:
            return data
        data = data.copy()
        for field in entity_type.fields.all():
            data.setdefault(f"entity_settings-{MAPPING_PREFIX}{field.name}", field.name)
        return data

    def process_step(self, form: Form) -> Any:
        """Step data goes to the session: secrets only as encrypted tokens."""
        data = self.get_form_step_data(form).copy()
        for name in SECRET_FIELDS:
            key = form.add_prefix(name)
            if key in data:
                data[key] = form.cleaned_data.get(name, "") if form.is_valid() else ""
        return data

    # --- navigation -------------------------------------------------------------------------

    def _first_incomplete_step_before(self, step: str) -> str | None:
        for name in self.steps.all:
            if name == step:
                return None
            if self.storage.get_step_data(name) is None:
                return name
        return None

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        posted_step = self.request.POST.get(f"{self.prefix}-current_step", "")
        if posted_step in self.steps.all:
            missing = self._first_incomplete_step_before(posted_step)
            if missing is not None:
                self.storage.current_step = missing
                return self.render(self.get_form(missing, data=self.storage.get_step_data(missing)))
        goto = self.request.POST.get("wizard_goto_step")
        if goto in self.steps.all:
            self._keep_current_step_data()
            missing = self._first_incomplete_step_before(goto)
            return self.render_goto_step(missing or goto)
        if "test_connection" in self.request.POST:
            return self._test_connection()
        return super().post(*args, **kwargs)

    def _keep_current_step_data(self) -> None:
        """Back keeps what was typed on the step being left."""
        if self.steps.current == "review":
            return
        form = self.get_form(data=self.request.POST)
        if form.is_valid() or self.storage.get_step_data(self.steps.current) is None:
            self.storage.set_step_data(self.steps.current, self.process_step(form))

    def _test_connection(self) -> HttpResponse:
        step = self.steps.current
        source = self._source()
        if step == SOURCE_SETTINGS:
            form = self.get_form(data=self.request.POST)
            if not form.is_valid():
                return self.render(form)
            self.storage.set_step_data(step, self.process_step(form))
            cleaned = form.cleaned_data
        else:
            form = self.get_form(data=self.request.POST)
            cleaned = self.get_cleaned_data_for_step(SOURCE_SETTINGS)
            if cleaned is None:
                return self.render_goto_step(SOURCE_SETTINGS)
        checks = source.test_cleaned(cleaned, self._external_id())
        return self.render(form, connection_checks=checks)

    # --- display ----------------------------------------------------------------------------

    def get_context_data(self, form: Form, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form=form, **kwargs)
        current = self.steps.index
        context["step_list"] = [
            {
                "key": key,
                "title": STEP_TITLES[key],
                "number": i + 1,
                "state": "done" if i < current else "current" if i == current else "todo",
            }
            for i, key in enumerate(self.steps.all)
        ]
        context["step_title"] = STEP_TITLES[self.steps.current]
        context["connector"] = self.connector
        context["source"] = self._source()
        if self.steps.current == "review":
            context["review_sections"] = self._review_sections()
        return context

    def _review_sections(self) -> list[dict[str, Any]]:
        entity = self.get_cleaned_data_for_step("entity") or {}
        settings = self.get_cleaned_data_for_step("entity_settings") or {}
        source = self.get_cleaned_data_for_step("source") or {}
        source_settings = self.get_cleaned_data_for_step(SOURCE_SETTINGS) or {}
        entity_type = entity.get("entity")
        formats = dict(FileFormat.choices)
        integration = dict(IntegrationType.choices)
        schedule = (
            f"every {settings.get('poll_interval_minutes')} minutes"
            if settings.get("schedule_active")
            else "not scheduled (run manually)"
        )
        entity_rows = [
            (
                "Entity",
                f"{entity_type.name} ({entity_type.get_category_display()})" if entity_type else "",
            ),
            ("Integration Type", integration.get(settings.get("integration_type", ""), "")),
            ("File format", formats.get(settings.get("file_format", ""), "")),
        ]
        if settings.get("file_format") == FileFormat.CSV:
            entity_rows.append(("CSV Delimiter", settings.get("csv_delimiter", "")))
        entity_rows += [
            ("Source File Prefix / pattern", settings.get("file_pattern") or "(every file)"),
            ("Bad rows allowed per file", settings.get("error_tolerance", "0")),
        ]
        if settings.get("integration_type") in DELETING_INTEGRATION_TYPES:
            entity_rows.append(
                ("Sync deletion limit", sync_limit_text(settings.get("sync_delete_limit_percent")))
            )
        entity_rows.append(("Schedule", schedule))
        mapping = settings.get("field_mapping", {})
        return [
            {
                "title": STEP_TITLES["entity"] + " and " + STEP_TITLES["entity_settings"],
                "step": "entity_settings",
                "rows": entity_rows,
                "mapping": sorted(mapping.items()),
            },
            {
                "title": STEP_TITLES["source"],
                "step": "source",
                "rows": [
                    ("Entity Source", self._source().label),
                    ("Connector Name", source.get("name", "")),
                    ("Description", source.get("description", "")),
                ],
            },
            {
                "title": STEP_TITLES[SOURCE_SETTINGS],
                "step": SOURCE_SETTINGS,
                "rows": self._source().summary(source_settings, self._external_id()),
            },
        ]

    def done(
        self, form_list: Any, form_dict: dict[str, Form], **kwargs: Any
    ) -> HttpResponseRedirect:
        # The steps' forms checked the access already (formtools validates them all again just
        # before this); the service checks it once more, for access revoked in between.
        try:
            connector = services.save_connector(
                owner=self._owner(),
                actor=self.request.user,
                connector=self.connector,
                entity_type=form_dict["entity"].cleaned_data["entity"],
                entity_settings=form_dict["entity_settings"].cleaned_data,
                source=form_dict["source"].cleaned_data,
                source_settings=form_dict[SOURCE_SETTINGS].cleaned_data,
                external_id=self._external_id(),
            )
        except services.EntityAccessDenied as exc:
            messages.error(self.request, f"Nothing was saved: {exc}")
            return redirect(self.connector or "connectors:list")
        verb = "updated" if self.connector else "created"
        messages.success(self.request, f"Connector {connector.name!r} {verb}.")
        return redirect(connector)
