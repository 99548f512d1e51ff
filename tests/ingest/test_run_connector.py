"""`manage.py run_connector`: a run in this process, tuned as workers are, and its summary; a
file nothing expected is reported, not a crash."""

from django.core.management import call_command

from ingest.models import FileState, SourceFile
from tests.support.factories import DEEP_JSON, GOOD_CSV, make_connector, put


def test_the_command_runs_synchronously_and_prints_a_summary(
    connector, bucket, s3_client, capsys, monkeypatch
) -> None:
    tuned: list[bool] = []  # the command tunes its process as workers do (not this one's)
    monkeypatch.setattr(
        "ingest.management.commands.run_connector.tune_garbage_collector",
        lambda: tuned.append(True),
    )
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    call_command("run_connector", "Profiles")
    assert tuned == [True]
    out = capsys.readouterr().out
    assert "Succeeded" in out and "2 created" in out
    assert "incoming/good.csv: succeeded -> done/good.csv" in out


def test_the_command_reports_a_deep_file_instead_of_crashing(
    alice, bucket, s3_endpoint, s3_client, capsys
) -> None:
    make_connector(alice, bucket=bucket, endpoint=s3_endpoint, file_format="json")
    put(s3_client, bucket, "incoming/deep.json", DEEP_JSON)

    call_command("run_connector", "Profiles")

    out = capsys.readouterr().out
    assert "Completed with failed files" in out
    assert "incoming/deep.json: failed -> failed/deep.json" in out
    assert SourceFile.objects.get().state == FileState.MOVED
