"""Turn bench/results/latest.json into the table `make bench` prints."""

import statistics
from typing import Any

TARGET_ROWS_PER_SECOND = 100_000
TARGET_PEAK_MB = 250


def _rate(result: dict[str, Any]) -> float:
    return result["rows"] / result["seconds"] if result.get("seconds") else 0.0


def _line(cells: list[str]) -> str:
    widths = [44, 16, 16, 12, 30]
    return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False))


def table(results: dict[str, Any]) -> str:
    lines = [_line(["workload", "ours", "baseline", "ratio", "target"]), "-" * 130]
    million = results.get("1_upsert_million")
    if million:
        for db in ("postgresql", "sqlite"):
            r = million[db]
            ours, bulk, naive = (
                _rate(r["ours"]),
                _rate(r["bulk_create"]),
                _rate(r["update_or_create"]),
            )
            target = f">= {TARGET_ROWS_PER_SECOND:,} rows/s, 3x bulk" if db == "postgresql" else "-"
            lines.append(
                _line(
                    [
                        f"1. {million['rows']:,} rows upsert, {db} (rows/s)",
                        f"{ours:,.0f}",
                        f"bulk {bulk:,.0f}",
                        f"{ours / bulk:.2f}x",
                        target,
                    ]
                )
            )
            if len(r["ours"].get("rounds_seconds", [])) > 1:
                each = ", ".join(f"{million['rows'] / t:,.0f}" for t in r["ours"]["rounds_seconds"])
                lines.append(_line(["   ours is the median of rounds (rows/s):", "", "", "", each]))
            lines.append(
                _line(
                    [
                        "",
                        "",
                        f"per-row {naive:,.0f}",
                        f"{ours / naive:.1f}x",
                        f"(per-row on {r['update_or_create']['rows']:,} rows)",
                    ]
                )
            )
            if "ours_again" in r:
                again = _rate(r["ours_again"])
                lines.append(
                    _line(
                        [
                            "   the same file again (rows/s)",
                            f"{again:,.0f}",
                            "",
                            "",
                            "(every record exists: updates)",
                        ]
                    )
                )
            if "copy_ceiling" in r:
                ceiling = _rate(r["copy_ceiling"])
                lines.append(
                    _line(
                        [
                            "   PostgreSQL alone: COPY of the records",
                            f"{ceiling:,.0f}",
                            "",
                            f"ours {ours / ceiling:.0%}",
                            "(the bound of any loader)",
                        ]
                    )
                )
            lines.append(
                _line(
                    [
                        f"   peak memory, {db} (MB)",
                        f"{r['ours']['peak_rss_mb']:.0f}",
                        f"bulk {r['bulk_create']['peak_rss_mb']:.0f}",
                        "",
                        f"< {TARGET_PEAK_MB} MB",
                    ]
                )
            )
    big = results.get("2_big_file")
    if big:
        ours = big["ours"]
        lines.append(
            _line(
                [
                    f"2. {big['file_mb']:,} MB CSV, postgresql: peak MB",
                    f"{ours['peak_rss_mb']:.0f}",
                    "",
                    "",
                    f"< {TARGET_PEAK_MB} MB ({_rate(ours):,.0f} rows/s)",
                ]
            )
        )
    small = results.get("3_small_files")
    if small:
        rounds = small["rounds"]
        median = statistics.median(r["aws_s3_mv"]["seconds"] / r["ours"]["seconds"] for r in rounds)
        for number, r in enumerate(rounds, start=1):
            ours, cli = r["ours"]["seconds"], r["aws_s3_mv"]["seconds"]
            lines.append(
                _line(
                    [
                        f"3. {small['files']:,} x 1 KB files, round {number} ({r['first']} first)"
                        if number == 1
                        else f"   round {number} ({r['first']} first)",
                        f"{ours:.1f} s",
                        f"aws s3 mv {cli:.1f} s",
                        f"{cli / ours:.2f}x",
                        "ours faster than mv" if number == 1 else "",
                    ]
                )
            )
        lines.append(
            _line(["   median of the rounds", "", "", f"{median:.2f}x", f"met: {median > 1}"])
        )
    listing = results.get("4_listing")
    if listing:
        ours, base = listing["ours"], listing["list_into_memory"]
        lines.append(
            _line(
                [
                    f"4. list {listing['keys']:,} keys, nothing new (s)",
                    f"{ours['seconds']:.1f}",
                    f"list-all {base['seconds']:.1f}",
                    f"{base['seconds'] / ours['seconds']:.2f}x",
                    "time",
                ]
            )
        )
        lines.append(
            _line(
                [
                    "   peak memory (MB)",
                    f"{ours['peak_rss_mb']:.0f}",
                    f"list-all {base['peak_rss_mb']:.0f}",
                    "",
                    "must not hold listing",
                ]
            )
        )
    workers = results.get("5_workers")
    if workers:
        one, two = workers["1_worker"], workers["2_worker"]
        rows = workers["files"] * workers["rows_per_file"]
        lines.append(
            _line(
                [
                    f"5. {workers['files']} files backlog, 2 workers (rows/s)",
                    f"{rows / two['seconds']:,.0f}",
                    f"1 worker {rows / one['seconds']:,.0f}",
                    f"{one['seconds'] / two['seconds']:.2f}x",
                    f"once each: {two['files'] == workers['files'] and two['records'] == rows}",
                ]
            )
        )
    hostile = results.get("6_hostile_shapes")
    if hostile:
        lines += _hostile_lines(hostile)
    return "\n".join(lines)


def _hostile_lines(hostile: dict[str, Any]) -> list[str]:
    header, bomb = hostile["parser"]["header"], hostile["parser"]["bomb"]
    runs = hostile["runs"]
    kilobytes, megabytes = bomb["compressed_bytes"] / 1024, bomb["decompressed_bytes"] / 1024**2
    return [
        _line(
            [
                f"6. {header['columns']:,}-column header, parse (s)",
                f"{header['ours_seconds']:.3f}",
                f"csv.reader {header['csv_reader_seconds']:.3f}",
                f"{header['ours_seconds'] / header['csv_reader_seconds']:.1f}x its time",
                f"whole run {runs['header']['seconds']:.1f} s",
            ]
        ),
        _line(
            [
                f"6. {kilobytes:,.0f} KB gzip bomb, to {megabytes:,.0f} MB (s)",
                f"{bomb['ours_seconds']:.2f}",
                f"zlib {bomb['zlib_seconds']:.2f}",
                f"{bomb['ours_seconds'] / bomb['zlib_seconds']:.1f}x its time",
                f"whole run {runs['bomb']['seconds']:.1f} s, {runs['bomb']['status']}",
            ]
        ),
    ]
