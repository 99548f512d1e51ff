"""Access Key ID and Secret shapes: AWS's for AWS S3, any printable key for the other
S3-compatible stores (MinIO's minioadmin, S3rver's S3RVER), which choose their own."""

import re

ACCESS_KEY_ID_RE = re.compile(r"^[A-Z0-9]{16,128}$")


def key_id_problem(key_id: str, *, custom_endpoint: bool) -> str | None:
    """What is wrong with an Access Key ID, if anything: AWS's shape for AWS S3; for another
    S3-compatible store, any printable ASCII without spaces (it travels in a request header)."""
    if not custom_endpoint:
        if ACCESS_KEY_ID_RE.match(key_id):
            return None
        return (
            "An AWS Access Key ID is 16 to 128 upper-case letters and digits, e.g. "
            "AKIAIOSFODNN7EXAMPLE. For another S3-compatible store (MinIO, Ceph, …), set its "
            "S3 Endpoint URL under Advanced."
        )
    for char in key_id:
        if not (char.isascii() and char.isprintable()) or char == " ":
            return (
                f"The Access Key ID contains {_describe(char)}; use letters, digits and "
                "punctuation only."
            )
    return None


def secret_problem(secret: str, *, custom_endpoint: bool) -> str | None:
    """What is wrong with an Access Key Secret, if anything. Never quotes the secret."""
    if not secret.isprintable():
        return (
            "The Access Key Secret contains a control character (such as a tab or a line "
            "break); enter it again."
        )
    if not custom_endpoint and (len(secret) < 16 or any(ch.isspace() for ch in secret)):
        return "An AWS Access Key Secret is at least 16 characters with no spaces."
    return None


def _describe(char: str) -> str:
    if char.isprintable() and char != " ":
        return f"the character {char!r}"
    return f"a control character or space (U+{ord(char):04X})"
