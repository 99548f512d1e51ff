"""The rows the parsers yield, and the limit a gzip file is read within: a CSV line of the wrong
width is a BadRow saying so; the decompression limit is sized by the compressed size, and its
message says how."""

import gzip

from ingest.parsers import BadRow, DecompressionLimit
from ingest.types import ParsedRow
from tests.support.parsing import failure, parse


def test_ragged_rows_are_bad_rows_that_say_what_is_wrong() -> None:
    rows = parse("a,b,c\n1,2,3\n1,2\n1,2,3,4\n5,6,7\n")
    assert rows[0] == ParsedRow(2, {"a": "1", "b": "2", "c": "3"})
    assert rows[1] == BadRow(3, "expected 3 fields, found 2", {"a": "1", "b": "2"})
    assert rows[2] == BadRow(4, "expected 3 fields, found 4", {"a": "1", "b": "2", "c": "3"})
    assert rows[3] == ParsedRow(5, {"a": "5", "b": "6", "c": "7"})


def test_the_decompression_limit_is_sized_by_the_compressed_size() -> None:
    def limit(compressed: int, ratio: int = 100) -> int:
        return DecompressionLimit.for_file(
            compressed, ratio=ratio, floor=64 * 1024**2, ceiling=20 * 1024**3
        ).max_bytes

    assert limit(300 * 1024) == 64 * 1024**2  # the floor: small files are not held to 100x
    assert limit(10 * 1024**2) == 1000 * 1024**2  # 100 times the compressed size
    assert limit(1024**3) == 20 * 1024**3  # never past the absolute limit
    assert limit(300 * 1024, ratio=0) == 20 * 1024**3  # ratio 0: the absolute limit only


def test_a_gzip_bomb_fails_at_its_size_limit_saying_how_that_is_set() -> None:
    bomb = gzip.compress(b"id\n" + b"\n" * (5 * 1024 * 1024), 9)
    limit = DecompressionLimit.for_file(len(bomb), ratio=100, floor=1024**2, ceiling=1024**3)
    message = failure(bomb, decompression_limit=limit)
    assert message.startswith(
        f"the file decompresses to more than 1,048,576 bytes, the most Loadbay reads from a "
        f"gzip file of {len(bomb):,} bytes: it reads at most 100 times a file's compressed size "
        "(and at least 1,048,576 bytes)"
    )
    assert "INGEST_DECOMPRESSION_RATIO" in message
