"""The documentation stays true to the repository: its relative links resolve (files and heading anchors, by
GitHub's rules), every ``exif-scrub``/``exif-audit`` option it names exists in the click command, and every
``template.yaml`` parameter is in the deploy guide's table.

Markdown is parsed with markdown-it-py (a dependency of rich), so links and headings inside code blocks are
ignored the way GitHub ignores them.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import click
import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
OPTION_DOCS = {"cli.md": "exif-scrub", "audit.md": "exif-audit"}
"""Which tool a bare ``--option`` in each document belongs to."""
TOOLS = ("exif-scrub", "exif-audit")
SHELL_SEPARATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"}
_OPTION = re.compile(r"--[A-Za-z][A-Za-z0-9-]*")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


# ---------------------------------------------------------------------------------------------- markdown


def _tokens(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def _inline_children(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        if token.type == "inline" and token.children:
            yield from token.children


def slug(text: str) -> str:
    """GitHub's heading anchor (github-slugger): lower case, keep letters, digits, marks, ``_``, ``-`` and
    spaces, then spaces become ``-``."""
    kept = "".join(
        ch
        for ch in text.lower()
        if ch in " -_" or unicodedata.category(ch)[0] in "LNM" or unicodedata.category(ch) == "Pc"
    )
    return kept.replace(" ", "-")


def heading_text(inline: Token) -> str:
    """The rendered text of a heading: text and code spans, without emphasis or link markup."""
    return "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))


def anchors(text: str) -> set[str]:
    """Every heading anchor of a document, with GitHub's ``-1``, ``-2`` suffixes for repeated headings."""
    tokens = _tokens(text)
    seen: dict[str, int] = {}
    found: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        base = slug(heading_text(tokens[index + 1]))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """The targets of every link and image outside code (inline, reference and autolinks alike)."""
    targets = []
    for child in _inline_children(_tokens(text)):
        if child.type == "link_open":
            targets.append(str(child.attrs.get("href", "")))
        elif child.type == "image":
            targets.append(str(child.attrs.get("src", "")))
    return targets


def broken_links(doc: Path) -> list[str]:
    """The relative links of ``doc`` whose file or heading anchor does not exist, each with the reason."""
    problems = []
    for target in links(doc.read_text(encoding="utf-8")):
        if not target or _SCHEME.match(target) or target.startswith("//"):
            continue  # absolute URLs (https:, mailto:) are not checked here
        path_part, _, fragment = target.partition("#")
        resolved = (doc.parent / unquote(path_part)).resolve() if path_part else doc
        if not resolved.exists():
            problems.append(
                f"{target}: no such file {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved}"
            )
            continue
        if (
            fragment
            and resolved.suffix == ".md"
            and unquote(fragment) not in anchors(resolved.read_text(encoding="utf-8"))
        ):
            problems.append(f"{target}: no heading with anchor #{fragment} in {resolved.name}")
    return problems


# ---------------------------------------------------------------------------------------------- options


def entry_point(script: str) -> click.Command:
    """The click command behind a ``[project.scripts]`` entry: the object itself, or, when the entry is a plain
    ``main()`` wrapper, the one top-level command of its module."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module_name, _, attribute = scripts[script].partition(":")
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    if isinstance(target, click.Command):
        return target
    commands = [value for value in vars(module).values() if isinstance(value, click.Command)]
    nested = {id(sub) for cmd in commands if isinstance(cmd, click.Group) for sub in cmd.commands.values()}
    top = [cmd for cmd in commands if id(cmd) not in nested]
    assert len(top) == 1, f"{script}: cannot tell which click command {scripts[script]} runs: {top}"
    return top[0]


def option_names(command: click.Command) -> set[str]:
    """The ``--long`` names of a command's own options, its help option included."""
    with click.Context(command) as ctx:
        params = command.get_params(ctx)
    return {name for param in params if isinstance(param, click.Option) for name in param.opts + param.secondary_opts}


def all_option_names(command: click.Command) -> set[str]:
    """The options of a command and of every subcommand under it."""
    names = option_names(command)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= all_option_names(sub)
    return names


@dataclass(frozen=True)
class Mention:
    """An option named in a document: the tool, the words before it that are not options (a subcommand path
    starts there), and where."""

    tool: str
    words: tuple[str, ...]
    option: str
    where: str


def _words(snippet: str) -> list[str]:
    try:
        return shlex.split(snippet, comments=True)
    except ValueError:  # an unbalanced quote in a shortened example
        return snippet.split()


def command_mentions(snippet: str, where: str) -> Iterator[Mention]:
    """Options in a command line that runs ``exif-scrub`` or ``exif-audit`` (``.venv/bin/exif-audit`` too)."""
    words = _words(snippet)
    for start, word in enumerate(words):
        tool = Path(word).name
        if tool not in TOOLS:
            continue
        before: list[str] = []
        for following in words[start + 1 :]:
            if following in SHELL_SEPARATORS:
                break
            name = following.split("=", 1)[0]
            if _OPTION.fullmatch(name):
                yield Mention(tool, tuple(before), name, where)
            elif not following.startswith("-"):
                before.append(following)


def mentions(doc: Path) -> Iterator[Mention]:
    """Every option ``doc`` names: in command lines (code blocks and code spans) that run one of the tools, and,
    in cli.md and audit.md, in code spans that start with ``--`` (those belong to the document's own tool)."""
    default_tool = OPTION_DOCS.get(doc.name)
    tokens = _tokens(doc.read_text(encoding="utf-8"))
    for token in tokens:
        if token.type in ("fence", "code_block"):
            for number, line in enumerate(token.content.splitlines(), start=(token.map or [0])[0] + 2):
                yield from command_mentions(line.removeprefix("$ "), f"{doc.name}:{number}")
    for child in _inline_children(tokens):
        if child.type != "code_inline":
            continue
        code = child.content.strip()
        where = f"{doc.name}: `{code}`"
        if code.startswith("--"):
            if default_tool is None:  # a bare option in another document: its tool is not known
                continue
            for option in _OPTION.findall(code):
                yield Mention(default_tool, (), option, where)
        else:
            yield from command_mentions(code, where)


def unknown_options(doc: Path, commands: dict[str, click.Command]) -> list[str]:
    """Options ``doc`` names that its tool (or the subcommand named with them) does not have."""
    problems = []
    for mention in mentions(doc):
        root = command = commands[mention.tool]
        known = all_option_names(root)
        path = [mention.tool]
        for word in mention.words:  # descend while the words name subcommands
            if not (isinstance(command, click.Group) and word in command.commands):
                break
            command = command.commands[word]
            path.append(word)
            known = option_names(command) | option_names(root)
        if mention.option not in known:
            problems.append(f"{mention.where}: {' '.join(path)} has no option {mention.option}")
    return problems


# ---------------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def commands() -> dict[str, click.Command]:
    return {tool: entry_point(tool) for tool in TOOLS}


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_relative_links_resolve(doc: Path) -> None:
    assert broken_links(doc) == []


@pytest.mark.parametrize("name", sorted(OPTION_DOCS))
def test_options_named_in_the_docs_exist(name: str, commands: dict[str, click.Command]) -> None:
    doc = ROOT / "docs" / name
    assert list(mentions(doc)), f"{name} names no option at all: the check would prove nothing"
    assert unknown_options(doc, commands) == []


@pytest.mark.parametrize("doc", [d for d in DOCS if d.name not in OPTION_DOCS], ids=lambda d: d.name)
def test_command_lines_in_other_docs_use_real_options(doc: Path, commands: dict[str, click.Command]) -> None:
    """README.md and the other guides quote ``exif-scrub``/``exif-audit`` command lines too."""
    assert unknown_options(doc, commands) == []


def test_every_template_parameter_is_in_the_deploy_guide() -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    parameters = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)["Parameters"]
    table = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    assert sorted(set(parameters) - rows) == []


# ------------------------------------------------------------------ the checks themselves can fail


def test_slugs_follow_github() -> None:
    assert slug("How the Lambda works") == "how-the-lambda-works"
    assert slug("1. Scope") == "1-scope"
    assert slug("`--fail-on` and `--list-groups`") == "--fail-on-and---list-groups"
    assert slug("Proof that it runs on Lambda (arm64, x86_64)") == "proof-that-it-runs-on-lambda-arm64-x86_64"
    text = "# A\n\n## Same\n\n## Same\n\n```\n# not a heading\n```\n"
    assert anchors(text) == {"a", "same", "same-1"}


def test_link_check_catches_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Present\n", encoding="utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](other.md#present) [file](missing.md) [anchor](other.md#absent) [self](#nowhere) "
        "[web](https://example.com/x.md)\n\n```\n[in code](ignored.md)\n```\n",
        encoding="utf-8",
    )
    problems = broken_links(doc)
    assert len(problems) == 3
    assert [p.split(":")[0] for p in problems] == ["missing.md", "other.md#absent", "#nowhere"]


def test_option_check_catches_unknown_and_misplaced_options(tmp_path: Path, commands: dict[str, click.Command]) -> None:
    doc = tmp_path / "cli.md"
    doc.write_text(
        "Use `--workers` and `--no-such-flag`.\n\n"
        "```sh\nexif-scrub inspect --in-place photos/ | grep x --ignored\n.venv/bin/exif-audit s3://b --fix\n```\n",
        encoding="utf-8",
    )
    assert unknown_options(doc, commands) == [
        "cli.md:4: exif-scrub inspect has no option --in-place",
        "cli.md: `--no-such-flag`: exif-scrub has no option --no-such-flag",
    ]


# ------------------------------------------------------------------ defaults, sizes and costs quoted in the docs
#
# Generic on purpose: a parameter, variable or figure added later is checked the same way (a template parameter
# missing from the deploy guide's table, or a handler variable this file cannot find a default for, fails).


def _template_parameters() -> dict[str, dict[str, object]]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    parameters: dict[str, dict[str, object]] = yaml.load(
        (ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader
    )["Parameters"]
    return parameters


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every table in a Markdown text, each a list of its cells' source text."""
    rows: list[list[str]] = []
    tokens = _tokens(text)
    in_body = False
    for token in tokens:
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tbody_close":
            in_body = False
        elif in_body and token.type == "tr_open":
            rows.append([])
        elif in_body and token.type == "inline" and rows:
            rows[-1].append(token.content)
    return rows


def quoted_default(cell: str) -> str:
    """A default column's value: its first code span, or "" for "empty"."""
    code = re.search(r"`([^`]*)`", cell)
    if code:
        return code.group(1)
    assert cell.strip().startswith("empty"), f"a default that is neither `code` nor empty: {cell!r}"
    return ""


def _names(cell: str) -> list[str]:
    return re.findall(r"`([A-Za-z0-9_]+)`", cell)


def test_every_default_in_the_deploy_guide_is_the_templates() -> None:
    parameters = _template_parameters()
    checked = set()
    for row in table_rows((ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")):
        names = _names(row[0])
        if len(names) == 1 and names[0] in parameters and len(row) == 3:
            name = names[0]
            assert quoted_default(row[1]) == str(parameters[name].get("Default", "")), name
            checked.add(name)
    assert checked == set(parameters)


def handler_default(name: str) -> str | None:
    """What the Lambda does with an empty environment for variable ``name``, as the docs would write it: the
    HandlerConfig (or ScrubPolicy) field of the same name, lower-cased; None when there is none."""
    from handler.config import HandlerConfig

    if name == "TMPDIR":
        return "/tmp"
    config = HandlerConfig.from_env({})
    field = name.lower()
    for owner in (config, config.policy):
        if hasattr(owner, field):
            value = getattr(owner, field)
            if isinstance(value, bool):
                return str(value).lower()
            return "" if value is None or value == () else str(value)
    return None


def test_every_default_in_the_lambda_guide_is_the_codes() -> None:
    section = (ROOT / "docs" / "lambda.md").read_text(encoding="utf-8").split("## Configuration", 1)[1]
    checked = 0
    for row in table_rows(section):
        if "see [" in row[1]:  # a default that is a lookup order, documented elsewhere (EXIFTOOL_PATH)
            continue
        for name in _names(row[0]):
            default = handler_default(name)
            assert default is not None, f"{name}: no HandlerConfig or ScrubPolicy field {name.lower()} to compare with"
            assert quoted_default(row[1]) == default, name
            checked += 1
    assert checked >= 17


def test_every_variable_the_handler_reads_is_in_the_lambda_guide() -> None:
    """The names handler/config.py and ScrubPolicy.from_env read from the environment all have a row."""
    sources = (ROOT / "handler" / "config.py").read_text(encoding="utf-8")
    sources += (ROOT / "exif_scrubber" / "policy.py").read_text(encoding="utf-8")
    literals = set(re.findall(r"""["']([A-Z][A-Z0-9_]{3,})["']""", sources))  # whole string literals only
    exported = {n for block in re.findall(r"__all__ = \[([^]]*)\]", sources) for n in re.findall(r'"(\w+)"', block)}
    read = literals - exported
    assert {"MAX_OBJECT_BYTES", "KEEP_COPYRIGHT", "EVIDENCE_PREFIX", "TRIAL"} <= read
    section = (ROOT / "docs" / "lambda.md").read_text(encoding="utf-8").split("## Configuration", 1)[1]
    documented = {name for row in table_rows(section) for name in _names(row[0])}
    refused = {"MARKER_SECRET", "KEEP_C2PA"}  # read only to refuse them, documented in the text
    assert read - documented - refused == set()


_UNITS = {"GiB": 1024**3, "MiB": 1024**2}


def test_template_defaults_named_in_prose_are_the_templates() -> None:
    """``Timeout`` (default 300 s), ``EphemeralStorage`` (default 3072 MB), ``LogRetentionDays`` defaults to 365."""
    parameters = _template_parameters()
    pattern = re.compile(r"`(\w+)`\s+(?:\(default|defaults to)\s+`?([0-9][0-9,]*|[a-z]+)`?\s*([GM]iB)?")
    found = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for name, value, unit in pattern.findall(text):
            if name not in parameters:
                continue
            found += 1
            default = str(parameters[name].get("Default", ""))
            number = value.replace(",", "")
            quoted = str(int(number) * _UNITS[unit]) if unit and number.isdigit() else number
            assert quoted == default, (
                f"{doc.name}: `{name}` quoted with default {value} {unit}, template says {default}"
            )
    assert found >= 4


def test_the_tmp_space_rule_quoted_is_the_codes() -> None:
    from exif_scrubber.s3.settings import TMP_SPACE_FACTOR

    words = {"two": 2, "three": 3, "four": 4}
    pattern = re.compile(r"\b(\d+|two|three|four) (?:times|x|\u00d7) (?:the object|its size|this|`MaxObjectBytes`)")
    quoted = [(doc.name, m) for doc in DOCS for m in pattern.findall(doc.read_text(encoding="utf-8"))]
    assert quoted
    assert all(int(words.get(m, m)) == TMP_SPACE_FACTOR for _, m in quoted), quoted


def test_the_fingerprint_flags_named_are_the_codes() -> None:
    from exif_scrubber import ScrubPolicy

    text = (ROOT / "docs" / "lambda.md").read_text(encoding="utf-8")
    sentence = text.split("The fingerprint names the policy:", 1)[1].split("(`ScrubPolicy.fingerprint`)", 1)[0]
    named = set(re.findall(r"`([a-z0-9]+)`", sentence))
    every = ScrubPolicy(strip_icc=False, keep_copyright=True, keep_live_photo_pairing=True).fingerprint()
    assert named == set(every.split(";"))


def _flat(value: object) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_flat(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_flat(v) for v in value)) if value else set()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return set()
    return {repr(value)}


_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def test_the_cost_page_quotes_the_measured_costs() -> None:
    """Every number in docs/cost.md's tables (but the row labels) is in bench/results/lambda_cost.json."""
    measured = _flat(json.loads((ROOT / "bench" / "results" / "lambda_cost.json").read_text(encoding="utf-8")))
    rows = table_rows((ROOT / "docs" / "cost.md").read_text(encoding="utf-8"))
    numbers = [n.replace(",", "") for row in rows for cell in row[1:] for n in _NUMBER.findall(cell)]
    assert len(numbers) > 60
    assert [n for n in numbers if n not in measured and repr(float(n)) not in measured] == []


LIMITS_MB = {"250": "Lambda's limit", "150": "the project's budget (tests/test_sam_build.py)"}


def test_sizes_and_build_times_quoted_are_the_measured_ones() -> None:
    """The deploy guide's build section and the README's deploy section quote bench/results/sam_build.json."""
    recorded = json.loads((ROOT / "bench" / "results" / "sam_build.json").read_text(encoding="utf-8"))
    sizes = {f"{v / 1e6:.1f}" for v in _numbers_in(recorded)}
    seconds = {str(recorded["sam_build_seconds"])}
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    build = deploy.split("## Build and deploy", 1)[1].split("## The created bucket", 1)[0]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploy to AWS", 1)[1].split("\n## ", 1)[0]
    quoted_mb = re.findall(r"(\d+(?:\.\d+)?) MB", build + section)
    quoted_s = re.findall(r"(\d+(?:\.\d+)?) s\b", build)
    assert quoted_mb and quoted_s
    assert [q for q in quoted_mb if q not in sizes and q not in LIMITS_MB] == []
    assert [q for q in quoted_s if q not in seconds] == []


def _numbers_in(value: object) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers_in(v)]
    return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []
