"""Test connection's verdict: one line that says whether every check passed, and what failed."""

from connectors.checks import Check, verdict


def passed(name: str, *, skipped: bool = False) -> Check:
    return Check(name=name, ok=True, detail=f"{name}: done.", skipped=skipped)


def test_every_check_passing_is_a_pass_that_counts_them() -> None:
    result = verdict([passed("List"), passed("Read"), passed("Delete")])
    assert result.ok
    assert result.text == "Test connection passed: 3 checks succeeded."


def test_skipped_checks_pass_but_are_said_to_be_skipped() -> None:
    result = verdict([passed("List"), passed("Read", skipped=True)])
    assert result.ok
    assert result.text == (
        "Test connection passed: 1 check succeeded, 1 check could not be tried yet (see below)."
    )


def test_a_single_failure_is_the_verdict_in_its_own_words() -> None:
    missing_bucket = Check(
        name="Find the bucket",
        ok=False,
        detail="The bucket acme does not exist (NoSuchBucket): check the Bucket name.",
    )
    result = verdict([missing_bucket])
    assert not result.ok
    assert result.text == (
        "Test connection failed: The bucket acme does not exist (NoSuchBucket): check the "
        "Bucket name."
    )


def test_a_single_denied_check_names_the_missing_permission() -> None:
    denied = Check(
        name="Delete from the Source Files Directory",
        ok=False,
        detail="Delete from the Source Files Directory: Access denied (AccessDenied)",
        permission="s3:DeleteObject",
        denied=True,
    )
    result = verdict([passed("List"), denied])
    assert result.text == (
        "Test connection failed: Delete from the Source Files Directory: Access denied "
        "(AccessDenied). Missing permission: s3:DeleteObject."
    )


def test_several_failures_are_counted_and_named() -> None:
    checks = [
        passed("List"),
        Check(name="Delete", ok=False, detail="no", permission="s3:DeleteObject", denied=True),
        Check(name="Write", ok=False, detail="no", permission="s3:PutObject", denied=True),
    ]
    result = verdict(checks)
    assert not result.ok
    assert result.text == "Test connection failed: 2 of 3 checks failed (Delete; Write)."
