"""The connector setup wizard: Entity Selection → Entity Specific Settings → Source Selection →
Source Specific Settings → Field Mapping → Share Settings → Review. New connectors and edits
use the same wizard; editing, Share Settings is a step only for the connector's owner and users
with full access (formtools' condition_dict), and the others' edits keep its shares as they are.

Built on formtools' SessionWizardView through its documented hooks only: get_form,
get_form_kwargs and get_form_initial build each step's form (step 4's comes from the chosen
Source, see connectors.sources); get_form_step_data keeps a source's secrets in the session
only as the encrypted tokens its form cleaned them into; render_goto_step serves the buttons
that name a step (Back; Test connection and Field Mapping's sample buttons, which name the step
they are on); done saves. Field Mapping's sample and Check sample are wizard.field_mapping's.
"""

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import Form
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from connectors import services
from connectors.checks import verdict
from connectors.models import AccessLevel
from connectors.selectors import get_connector_for, may_change_shares
from connectors.sources import secret_field_names
from wizard.field_mapping import (
    FieldMappingStep,
    StepSettings,
    last_check,
    saved_mapping,
    with_suggestions,
)
from wizard.forms import (
    MAPPING_PREFIX,
    EntitySelectionForm,
    EntitySettingsForm,
    FieldMappingForm,
    ReviewForm,
    SourceSelectionForm,
)
from wizard.review import review_sections
from wizard.session import WizardSession
from wizard.share_form import ShareSettingsForm, share_initial
from wizard.steps import (
    ENTITY,
    ENTITY_SETTINGS,
    FIELD_MAPPING,
    REVIEW,
    SHARE,
    SOURCE,
    SOURCE_SETTINGS,
    STEP_TITLES,
)
from wizard.uploads import SampleHeadUploadHandler


def shows_share_settings(wizard: "ConnectorWizard") -> bool:
    """Whether Share Settings is one of the wizard's steps: for a new connector, and, editing,
    for its owner and users with full access (see connectors.selectors.may_change_shares)."""
    return may_change_shares(wizard.request.user, wizard.connector)


# Error reports never show a secret: not as a posted field, nor in any frame below dispatch
# (forms, Test connection, boto3); see config/error_reports.py.
@method_decorator(
    sensitive_post_parameters(*(f"{SOURCE_SETTINGS}-{name}" for name in secret_field_names())),
    name="dispatch",
)
@method_decorator(sensitive_variables(), name="dispatch")
# CSRF is checked in dispatch, once the upload handler is set (see there).
@method_decorator(csrf_exempt, name="dispatch")
class ConnectorWizard(LoginRequiredMixin, WizardSession):
    form_list = [
        (ENTITY, EntitySelectionForm),
        (ENTITY_SETTINGS, EntitySettingsForm),
        (SOURCE, SourceSelectionForm),
        (SOURCE_SETTINGS, Form),  # replaced by the chosen source's settings form
        (FIELD_MAPPING, FieldMappingForm),
        (SHARE, ShareSettingsForm),
        (REVIEW, ReviewForm),
    ]
    condition_dict = {SHARE: shows_share_settings}
    template_name = "wizard/wizard.html"
    _field_mapping: FieldMappingStep | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """An uploaded sample is kept only as its first bytes, in memory (wizard.uploads): the
        handler is set before anything reads the body, so CSRF is checked here, after it (as
        Django's documentation of upload handlers does)."""
        request.upload_handlers = [SampleHeadUploadHandler(request)]
        return csrf_protect(self._signed_in_dispatch)(request, *args, **kwargs)

    def _signed_in_dispatch(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if "pk" in kwargs:
            self.connector = get_connector_for(request.user, kwargs["pk"], needs=AccessLevel.EDIT)
        return super().dispatch(request, *args, **kwargs)

    def get_prefix(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str:
        return f"connector_wizard_{kwargs.get('pk', 'new')}"

    # --- what each step's form gets (the session's choices: wizard.session) -------------

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        people = {"actor": self._actor(), "owner": self._owner()}
        if step == ENTITY:
            return people
        if step == ENTITY_SETTINGS:
            return {"entity_type": self._entity_type(), **people}
        if step == SOURCE:
            return {"owner": self._owner(), "connector": self.connector}
        if step == FIELD_MAPPING:
            return {"entity_type": self._entity_type()}
        if step == SOURCE_SETTINGS:
            source = self._source()
            return source.settings_form_kwargs(
                connector=self.connector,
                external_id=self._external_id(),
                held_secrets=self._held_secrets(source),
            )
        if step == SHARE:
            return {"owner": self._owner()}
        return {}

    def get_form_initial(self, step: str) -> dict[str, Any]:
        connector = self.connector
        if step == FIELD_MAPPING:
            mapping = saved_mapping(self.connector, self._entity_type())
            if mapping is None:
                mapping = self._mapping_step().suggested()
            return {MAPPING_PREFIX + name: column for name, column in mapping.items()}
        if connector is None:
            return {}
        if step == ENTITY:
            return {"entity": connector.entity_type_id}
        if step == ENTITY_SETTINGS:
            return {
                name: getattr(connector, name)
                for name in (*services.ENTITY_SETTING_NAMES, *services.CRON_SETTING_NAMES)
                if name != "field_mapping"
            }
        if step == SOURCE:
            return {
                "entity_source": connector.source_type,
                "name": connector.name,
                "description": connector.description,
            }
        if step == SOURCE_SETTINGS and connector.source_type == self._source().key:
            return self._source().initial_from(connector)
        if step == SHARE:
            return share_initial(connector)
        return {}

    def get_form(self, step: str | None = None, data: Any = None, files: Any = None) -> Form:
        """The form of `step`, or of the current step. The current step is never one whose
        earlier steps are incomplete (posted, or gone to, out of order), nor one the wizard
        does not have: the first incomplete step becomes current instead, with what it
        holds."""
        if step is None:
            step = self.steps.current
            if data is not None and self.storage.current_step is None:
                # No wizard in the session (it expired): the page's step is the one posted.
                step = self._posted_step()
            if step not in self.steps.all:
                # Not one of this wizard's steps: Share Settings posted by a user who may not
                # change the shares (or a made-up name). Nothing posted is taken; the first
                # incomplete step, or else Review, is shown.
                self.storage.current_step = step = REVIEW
                data, files = None, None
            missing = self._first_incomplete_step_before(step)
            if missing is not None:
                self.storage.current_step = step = missing
                data, files = self.storage.get_step_data(missing), None
        if step == FIELD_MAPPING:
            return self._field_mapping_form(data)
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

    # --- Field Mapping ----------------------------------------------------------------------

    def _mapping_step(self) -> FieldMappingStep:
        """The step's sample and checks, for this request (the sample is read once)."""
        if self._field_mapping is None:
            self._field_mapping = FieldMappingStep(self.storage, self._step_settings())
        return self._field_mapping

    def _step_settings(self) -> StepSettings:
        return StepSettings(
            entity_type=self._entity_type(),
            entity_settings=self.get_cleaned_data_for_step(ENTITY_SETTINGS) or {},
            source=self._source(),
            source_settings=self.get_cleaned_data_for_step(SOURCE_SETTINGS) or {},
            external_id=self._external_id(),
            connector_id=self.connector.pk if self.connector else None,
        )

    def _field_mapping_form(self, data: Any, initial: dict[str, str] | None = None) -> Form:
        """Field Mapping's form: bound to `data` (see with_suggestions), or holding `initial`
        (field name -> column), else get_form_initial's. Never given files: an uploaded sample
        is the step's, not the form's (see _render_sample_action)."""
        values: dict[str, Any] = {}
        if data is not None:
            data = with_suggestions(data, self._entity_type(), self._mapping_step)
        elif initial is not None:
            values = {MAPPING_PREFIX + name: column for name, column in initial.items()}
        else:
            values = self.get_form_initial(FIELD_MAPPING)
        return FieldMappingForm(
            data=data,
            prefix=self.get_form_prefix(FIELD_MAPPING, FieldMappingForm),
            initial=values,
            **self.get_form_kwargs(FIELD_MAPPING),
        )

    def _render_sample_action(self, form: Form) -> HttpResponse:
        """Field Mapping's buttons, which name the step they are on and say in the URL which
        they are (`?sample=`): Check sample checks the mapping posted against the sample (and
        keeps it, when valid, as Next would); Read this file and Upload change the sample,
        and the mapping follows the new columns (what was chosen stays where it can)."""
        self.storage.current_step = FIELD_MAPPING
        step = self._mapping_step()
        action = self.request.GET.get("sample", "check")
        if action in ("pick", "upload") and isinstance(form, FieldMappingForm):
            if action == "pick":
                error = step.pick(self.request.POST.get("sample_key", ""))
            else:
                error = step.upload(self.request.FILES.get("sample_file"))
            if error is None:
                form = self._field_mapping_form(None, step.remapped(form.chosen()))
            return self.render(form, sample_error=error)
        if not form.is_valid():
            return self.render(form)
        self.storage.set_step_data(FIELD_MAPPING, self.get_form_step_data(form))
        result = step.check(form.cleaned_data["field_mapping"])
        if isinstance(result, str):
            return self.render(form, sample_error=result)
        return self.render(form, dry_run=result)

    def get_form_step_data(self, form: Form) -> Mapping[str, Any]:
        """What the session keeps of a step: what was posted, except a source's secrets,
        kept only as the encrypted tokens the form cleaned them into."""
        if form.prefix != SOURCE_SETTINGS:
            return super().get_form_step_data(form)
        data = QueryDict(mutable=True)
        data.update(form.data)
        for name, token in self._source().secret_tokens(form).items():
            data[form.add_prefix(name)] = token
        return data

    # --- buttons that name a step: Back, and Test connection -----------------------------

    def _first_incomplete_step_before(self, step: str) -> str | None:
        for name in self.steps.all:
            if name == step:
                return None
            if self.storage.get_step_data(name) is None:
                return name
        return None

    def _posted_step(self) -> str:
        """The step whose fields were posted (as the page's management form says)."""
        posted = self.request.POST.get(f"{self.prefix}-current_step", "")
        if posted in self.steps.all:
            return posted
        current = self.steps.current
        return current if current in self.steps.all else REVIEW

    def render_goto_step(self, goto_step: str, **kwargs: Any) -> HttpResponse:
        """Back names an earlier step: what was typed on the step being left is kept first
        (when valid, or when the step held nothing yet), so going back loses nothing. Test
        connection names the step it is on (step 4 or Review): see _render_connection_test."""
        step = self._posted_step()
        if self._first_incomplete_step_before(step) is not None:
            return super().render_goto_step(step, **kwargs)  # get_form shows that step
        form = self.get_form(step, data=self.request.POST, files=self.request.FILES)
        if goto_step == step == FIELD_MAPPING:
            return self._render_sample_action(form)
        if goto_step == step:
            return self._render_connection_test(step, form)
        if step != REVIEW and (form.is_valid() or self.storage.get_step_data(step) is None):
            self.storage.set_step_data(step, self.get_form_step_data(form))
        return super().render_goto_step(goto_step, **kwargs)

    def _render_connection_test(self, step: str, form: Form) -> HttpResponse:
        """Check the source settings with the chosen source's Test connection and show `step`
        again with the results: on step 4 the settings posted (kept, when valid, as Next
        would), on Review those step 4 holds. Nothing is saved."""
        if step == SOURCE_SETTINGS:
            if not form.is_valid():
                self.storage.current_step = step
                return self.render(form)
            self.storage.set_step_data(step, self.get_form_step_data(form))
            cleaned = form.cleaned_data
        else:
            held = self.get_cleaned_data_for_step(SOURCE_SETTINGS)
            if held is None:
                return super().render_goto_step(SOURCE_SETTINGS)
            cleaned = held
        self.storage.current_step = step
        checks = self._source().test_settings(cleaned, external_id=self._external_id())
        return self.render(form, connection_checks=checks, connection_verdict=verdict(checks))

    # --- display ----------------------------------------------------------------------------

    def get_context_data(self, form: Form | None = None, **kwargs: Any) -> dict[str, Any]:
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
        context["marks_required"] = form is not None and any(
            field.required for field in form.fields.values()
        )
        context["connector"] = self.connector
        context["source"] = self._source()
        if self.steps.current == FIELD_MAPPING and isinstance(form, FieldMappingForm):
            page = self._mapping_step().page
            if page.columns:
                form.offer_columns(page.columns)
            context["sample_page"] = page
            context["sample_bytes"] = self._mapping_step().limit
        if self.steps.current == REVIEW:
            context["review_sections"] = self._review_sections()
        return context

    def _review_sections(self) -> list[dict[str, Any]]:
        entity = self.get_cleaned_data_for_step(ENTITY) or {}
        mapping = (self.get_cleaned_data_for_step(FIELD_MAPPING) or {}).get("field_mapping", {})
        return review_sections(
            entity_type=entity.get("entity"),
            entity_settings=self.get_cleaned_data_for_step(ENTITY_SETTINGS) or {},
            source=self._source(),
            source_step=self.get_cleaned_data_for_step(SOURCE) or {},
            source_settings=self.get_cleaned_data_for_step(SOURCE_SETTINGS) or {},
            external_id=self._external_id(),
            mapping=mapping,
            check=last_check(self.storage, self._step_settings(), mapping),
            owner=self._owner(),
            shares=self._shares(),
            shares_kept=SHARE not in self.steps.all,
        )

    def done(
        self, form_list: Any, form_dict: dict[str, Form], **kwargs: Any
    ) -> HttpResponseRedirect:
        # The steps' forms checked the access already (formtools validates them all again just
        # before this); the service checks it once more, for access revoked in between. Share
        # Settings is a step only for those who may change the shares (the service checks
        # that too); without it the shares are kept as they are.
        share = form_dict.get(SHARE)
        try:
            connector = services.save_connector(
                owner=self._owner(),
                actor=self._actor(),
                connector=self.connector,
                entity_type=form_dict[ENTITY].cleaned_data["entity"],
                entity_settings={
                    **form_dict[ENTITY_SETTINGS].cleaned_data,
                    "field_mapping": form_dict[FIELD_MAPPING].cleaned_data["field_mapping"],
                },
                source=form_dict[SOURCE].cleaned_data,
                source_settings=form_dict[SOURCE_SETTINGS].cleaned_data,
                external_id=self._external_id(),
                shares=share.cleaned_data["shares"] if share is not None else None,
            )
        except (services.EntityAccessDenied, services.SharingDenied) as exc:
            messages.error(self.request, f"Nothing was saved: {exc}")
            return redirect(self.connector or "connectors:list")
        verb = "updated" if self.connector else "created"
        messages.success(self.request, f"Connector {connector.name!r} {verb}.")
        return redirect(connector)
