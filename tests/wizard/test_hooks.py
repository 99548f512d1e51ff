"""The wizard is built on formtools' documented hooks only (docs/wizard.rst of
django-formtools): it overrides neither post() nor process_step(), which formtools' docs say
must not change the data."""

from formtools.wizard.views import WizardView

from wizard.views import ConnectorWizard

# The WizardView methods formtools documents as hooks to override, process_step aside.
DOCUMENTED_HOOKS = {
    "get_template_names",
    "get_form_prefix",
    "get_form_initial",
    "get_form_kwargs",
    "get_form_instance",
    "get_context_data",
    "get_prefix",
    "get_form",
    "process_step_files",
    "render_goto_step",
    "render_revalidation_failure",
    "get_form_step_data",
    "get_form_step_files",
    "render",
    "done",
}
# Django's entry point of every view; the wizard's checks sign-in and access, then calls it.
DJANGO_VIEW_HOOKS = {"dispatch"}


def test_the_wizard_overrides_only_documented_hooks() -> None:
    overridden = {
        name
        for name, value in vars(ConnectorWizard).items()
        if callable(value) and hasattr(WizardView, name)
    }
    assert overridden <= DOCUMENTED_HOOKS | DJANGO_VIEW_HOOKS, overridden - DOCUMENTED_HOOKS


def test_the_wizard_neither_posts_nor_processes_steps_itself() -> None:
    assert "post" not in vars(ConnectorWizard)
    assert "process_step" not in vars(ConnectorWizard)
