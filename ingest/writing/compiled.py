"""The fast paths: row cleaners generated per plan from the field-type declarations.

The only generated code of the ingest core. Each function does, for a row whose values are all
plain text, present and valid, what the exact path (ingest.writing.rows) does, without a call
per value; it raises (or stops, for a block) at anything else, so that the exact path says what
is wrong. Each value's checks come from its field (required, max length, pattern) and from its
type's FieldKind (entities.fieldtypes: its pattern, its parse, its JSON form), so nothing here
names a field type. They exist because they run for every row of every file (BENCHMARKS.md:
they took cleaning and COPY text from 18.6 to 14.7 CPU-s a million rows).

Names from the entity and the file never enter the code: every column, field name, length,
pattern and function is a constant handed to the generated factory, read into a closure
variable (the fastest a function reads). `python manage.py show_cleaner` prints the source;
tests/ingest/writing/test_compiled.py holds each cleaner to the exact path on generated values.
"""

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from entities.fieldtypes import JsonForm
from entities.validation import check_storable, compiled_pattern
from ingest.writing.jsontext import dumps
from ingest.writing.plan import MAX_EXTERNAL_ID, Mapped, Plan
from ingest.writing.rows import Candidate


class NotPlain(Exception):
    """The fast path cannot take this row; the exact path decides what is wrong with it."""


# values by column -> (external id, typed data by field); raises for a row it cannot take.
RowCleaner = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
# (rows, i, stop, first_line, out) -> the index of the first row of rows[i:stop] it cannot
# take (stop if none), having appended a Candidate to `out` for each row before it.
BlockCleaner = Callable[[list[list[str]], int, int, int, list[Candidate]], int]


class _Code:
    """Generated source in the making: the factory's constants and the cleaner's lines."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.constants: list[Any] = []
        self.bindings: list[str] = []
        self.body: list[str] = []

    def constant(self, name: str, value: Any) -> str:
        """A closure variable of the cleaner holding `value`; its name."""
        self.bindings.append(f"    {name} = CONSTANTS[{len(self.constants)}]")
        self.constants.append(value)
        return name

    @property
    def source(self) -> str:
        return "\n".join(
            ["def factory(CONSTANTS):", *self.bindings, *self.body, "    return clean"]
        )

    def compile(self) -> Any:
        namespace: dict[str, Any] = {
            "NotPlain": NotPlain,
            "STORABLE": check_storable,
            "MAX_EXTERNAL_ID": MAX_EXTERNAL_ID,
        }
        code = compile(self.source, "<ingest.writing.compiled>", "exec")
        exec(code, namespace)  # noqa: S102 - built from this module's lines, never from names
        return namespace["factory"](tuple(self.constants))

    def legend(self) -> list[str]:
        """What each v<i> of the source is (for reading only: never compiled)."""
        return [
            f"# v{i}: field {m.field!r} ({m.spec.field_type}"
            f"{', required' if m.spec.required else ''}) from column {m.column!r}"
            for i, m in enumerate(self.plan.mapped)
        ]


def _value_checks(code: _Code, i: int, mapped: Mapped) -> list[str]:
    """The lines that check (and parse) the stripped, non-empty text v<i>."""
    spec, kind = mapped.spec, mapped.kind
    lines: list[str] = []
    if spec.max_length is not None:
        limit = code.constant(f"max_length{i}", spec.max_length)
        lines.append(f"if len(v{i}) > {limit}: raise NotPlain")
    if spec.validation_regex:
        matches = code.constant(
            f"field_pattern{i}", compiled_pattern(spec.validation_regex).fullmatch
        )
        lines.append(f"if {matches}(v{i}) is None: raise NotPlain")
    if kind.pattern is not None:
        matches = code.constant(f"type_pattern{i}", kind.pattern.match)
        lines.append(f"if {matches}(v{i}) is None: raise NotPlain")
    if kind.parse is not None:
        lines.append(f"v{i} = {code.constant(f'parse{i}', kind.parse)}(v{i})")
    return lines


def _json_of_value(i: int, mapped: Mapped) -> str:
    """The expression that gives v<i> (checked, parsed, not null) as JSON text."""
    form = mapped.kind.json
    if form is JsonForm.NUMBER:
        return f"str(v{i})"
    if form is JsonForm.BOOLEAN:
        return f'"true" if v{i} else "false"'
    return f"f'\"{{v{i}}}\"'"  # text a block checked needs no escaping, nor what parse makes of it


def _value_lines(code: _Code, i: int, mapped: Mapped, *, encoded: bool) -> list[str]:
    """v<i> stripped, then null if empty (or not plain if required), else checked."""
    null = f'j{i} = "null"' if encoded else f"v{i} = None"
    lines = [f"v{i} = v{i}.strip()", f"if not v{i}:"]
    lines.append("    raise NotPlain" if mapped.spec.required else f"    {null}")
    present = _value_checks(code, i, mapped)
    if encoded:
        present.append(f"j{i} = {_json_of_value(i, mapped)}")
    if present:
        lines += ["else:", *(f"    {line}" for line in present)]
    return lines


def _identifier_lines(plan: Plan) -> list[str]:
    """The row's external id from its cleaned values, or NotPlain."""
    return [
        f"external_id = v{plan.mapped.index(plan.identifier)}",
        "if external_id is None: raise NotPlain",
        "external_id = str(external_id)",
        "if len(external_id) > MAX_EXTERNAL_ID: raise NotPlain",
    ]


def _storable_lines(indexes: list[int], *, encoded: bool) -> list[str]:
    """One check of the row's raw text instead of two a value; join raises TypeError unless
    every value is text. Encoded (JSON written by hand): nothing that needs escaping."""
    joined = ", ".join(f"v{i}" for i in indexes)
    lines = [f'raw = "".join(({joined},))']
    if encoded:
        return [
            *lines,
            """if '"' in raw or "\\\\" in raw or not raw.isprintable(): raise NotPlain""",
        ]
    return [
        *lines,
        'if "\\x00" in raw or not raw.isascii():',
        *(f"    STORABLE(v{i})" for i in indexes),
    ]


# --- rows as dicts (JSON, NDJSON, and CSV lines read one by one) ------------------------------


def _row_code(plan: Plan) -> _Code:
    code = _Code(plan)
    count = len(plan.mapped)
    lines = [
        f"v{i} = values[{code.constant(f'column{i}', m.column)}]" for i, m in enumerate(plan.mapped)
    ]
    lines += _storable_lines(list(range(count)), encoded=False)
    for i, mapped in enumerate(plan.mapped):
        lines += _value_lines(code, i, mapped, encoded=False)
    lines += _identifier_lines(plan)
    data = ", ".join(
        f"{code.constant(f'field{i}', m.field)}: v{i}" for i, m in enumerate(plan.mapped)
    )
    lines.append(f"return external_id, {{{data}}}")
    code.body = ["    def clean(values):", *(f"        {line}" for line in lines)]
    return code


@lru_cache(maxsize=64)
def row_cleaner(plan: Plan) -> RowCleaner | None:
    """The plan's cleaner of rows given as {column: value}, made once per plan. It raises for
    a row it cannot take (a column the row lacks: KeyError). None for Patch, whose rows keep
    the fields their file lacks."""
    if plan.is_patch:
        return None
    cleaner: RowCleaner = _row_code(plan).compile()
    return cleaner


# --- runs of plain CSV lines, as lists of text by column -------------------------------------


def _positions(header: tuple[str, ...]) -> dict[str, int]:
    """Each column's index (the first, if a name repeats): one pass, however wide the file."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        positions.setdefault(name, index)
    return positions


def _block_code(plan: Plan, header: tuple[str, ...], encoded: bool, clean_block: bool) -> _Code:
    code = _Code(plan)
    positions = _positions(header)
    present = [i for i, m in enumerate(plan.mapped) if m.column in positions]
    width = code.constant("width", len(header))
    candidate = code.constant("Candidate", Candidate)
    lines = [
        f"v{i} = fields[{code.constant(f'index{i}', positions[plan.mapped[i].column])}]"
        for i in present
    ]
    if present and not clean_block:  # a clean block was checked once for all its rows
        lines += _storable_lines(present, encoded=encoded)
    keys: list[str] = []
    for i, mapped in enumerate(plan.mapped):
        key = f"{dumps(mapped.field)}:" if encoded else mapped.field
        keys.append(code.constant(f"field{i}", key))
        if i in present:
            lines += _value_lines(code, i, mapped, encoded=encoded)
        else:  # a column the file lacks: the field is set to null
            lines.append(f'j{i} = "null"' if encoded else f"v{i} = None")
    lines += _identifier_lines(plan)
    if encoded:
        data = 'f"{{' + ",".join(f"{{{key}}}{{j{i}}}" for i, key in enumerate(keys)) + '}}"'
    else:
        data = "{" + ", ".join(f"{key}: v{i}" for i, key in enumerate(keys)) + "}"
    code.body = [
        "    def clean(rows, i, stop, first_line, out):",
        "        append = out.append",
        "        while i < stop:",
        "            fields = rows[i]",
        "            try:",
        f"                if len(fields) != {width}: return i",
        *(f"                {line}" for line in lines),
        "            except Exception:",
        "                return i",
        f"            append({candidate}(first_line + i, external_id, {data}))",
        "            i += 1",
        "        return i",
    ]
    return code


@lru_cache(maxsize=64)
def block_cleaner(
    plan: Plan, header: tuple[str, ...], encoded: bool, clean_block: bool
) -> BlockCleaner | None:
    """The cleaner of a PlainBlock's rows (lists of text by column), made once per plan and
    header. With `encoded`, a candidate's data is its JSON text, written by the cleaner instead
    of encoded by json from a dict (6 µs a row): only rows whose values are printable text
    without a quote or a backslash are taken, so no value (and no identifier, in COPY) needs
    escaping. For a block whose text is `clean` (PlainBlock.clean), that was checked once for
    all its rows. None for Patch."""
    if plan.is_patch:
        return None
    cleaner: BlockCleaner = _block_code(plan, header, encoded, clean_block).compile()
    return cleaner


# --- for reading ------------------------------------------------------------------------------


def row_cleaner_source(plan: Plan) -> str:
    """The source row_cleaner compiles for `plan`, with a legend of its values."""
    code = _row_code(plan)
    return "\n".join([*code.legend(), code.source])


def block_cleaner_source(
    plan: Plan, header: tuple[str, ...], *, encoded: bool, clean_block: bool
) -> str:
    """The source block_cleaner compiles for `plan` and `header`, with a legend."""
    code = _block_code(plan, header, encoded, clean_block)
    return "\n".join([*code.legend(), code.source])
