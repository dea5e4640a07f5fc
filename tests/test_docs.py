"""The documentation stays true to the repository: its relative links resolve (files and heading anchors, by
GitHub's rules), every ``exif-scrub``/``exif-audit`` option it names exists in the click command, and every
``template.yaml`` parameter is in the deploy guide's table.

Markdown is parsed with markdown-it-py (a dependency of rich), so links and headings inside code blocks are
ignored the way GitHub ignores them.
"""

from __future__ import annotations

import importlib
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
