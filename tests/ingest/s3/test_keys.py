"""What a bucket holds: which listed files a connector takes, and which of a batch's
destination names are free, found by listing the range they span."""

from ingest.models import SourceFile
from ingest.s3.keys import vacant_keys
from tests.support.factories import GOOD_CSV, keys, make_connector, put, run_now


def test_it_skips_markers_targets_probes_and_other_patterns(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(
        alice,
        bucket=bucket,
        endpoint=s3_endpoint,
        success_path="incoming/done/",
        failed_path="incoming/failed/",
        file_pattern="profiles_*.csv",
    )
    for key in (
        "incoming/",
        "incoming/sub/",
        "incoming/done/profiles_old.csv",
        "incoming/failed/profiles_bad.csv",
        "incoming/.loadbay-probe-123",
        "incoming/other.csv",
    ):
        put(s3_client, bucket, key, GOOD_CSV if key.endswith(".csv") else "")
    put(s3_client, bucket, "incoming/profiles_1.csv", GOOD_CSV)
    run = run_now(connector)
    assert run.files_seen == 1
    assert SourceFile.objects.get().key == "incoming/profiles_1.csv"
    assert "incoming/done/profiles_1.csv" in keys(s3_client, bucket)


def test_vacant_keys_lists_the_range_a_batch_spans(bucket, s3_client) -> None:
    for key in ["done/a.csv", "done/c.csv", "done/c.csv.errors.txt", "done/z.csv", "other/b.csv"]:
        put(s3_client, bucket, key, "x")
    wanted = ["done/b.csv", "done/c.csv", "done/d.csv", "done/a.csv"]
    assert vacant_keys(s3_client, bucket, wanted) == {"done/b.csv", "done/d.csv"}
    assert vacant_keys(s3_client, bucket, ["other/b.csv", "x"]) == {"x"}
    assert vacant_keys(s3_client, bucket, []) == set()


def test_vacant_keys_leaves_out_what_the_listing_did_not_reach(bucket, s3_client) -> None:
    for number in range(8):
        put(s3_client, bucket, f"done/f{number}.csv", "x")
    wanted = ["done/f0.csv", "done/f0a.csv", "done/f3a.csv", "done/f9.csv"]
    # Two pages of two keys reach done/f3.csv: f3a and f9 are left to a HEAD each.
    vacant = vacant_keys(s3_client, bucket, wanted, max_pages=2, page_size=2)
    assert vacant == {"done/f0a.csv"}
    assert vacant_keys(s3_client, bucket, wanted) == {
        "done/f0a.csv",
        "done/f3a.csv",
        "done/f9.csv",
    }


def test_vacant_keys_is_empty_when_listing_is_refused(bucket, s3_client) -> None:
    from botocore.stub import Stubber

    with Stubber(s3_client) as stub:
        stub.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403)
        assert vacant_keys(s3_client, bucket, ["done/a.csv"]) == set()
