"""`manage.py show_cleaner`: the code generated for an entity type, as the writer runs it."""

from io import StringIO

import pytest
from django.core.management import call_command

from entities.models import EntityType
from ingest.writing.compiled import block_cleaner_source, row_cleaner_source
from ingest.writing.plan import plan_for
from tests.support.ingest_configs import config_for


@pytest.mark.django_db
def test_show_cleaner_prints_the_generated_source() -> None:
    out = StringIO()
    call_command("show_cleaner", "Profile", stdout=out)
    plan = plan_for(config_for(EntityType.objects.get(name="Profile")))
    assert out.getvalue().strip() == row_cleaner_source(plan)
    assert "# v0: field 'profile_id' (text, required) from column 'profile_id'" in out.getvalue()
    out = StringIO()
    call_command("show_cleaner", "Profile", "--block", stdout=out)
    header = tuple(m.column for m in plan.mapped)
    expected = block_cleaner_source(plan, header, encoded=True, clean_block=False)
    assert out.getvalue().strip() == expected
