"""The one interface every supported format implements (one module per format, as in mat2).

A format handler owns everything about its format: how it is recognised, its strict walker (the byte model
of :mod:`..bytemodel`, which also decides what the audit must read), its allowlist (what counts as
structure or a kept item) and its rewrite. Every handler rewrites its files itself, by dropping whole blocks and
writing structure and kept items in canonical form; ExifTool only reads (the second opinion), never writes.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Span
from ..kept import accounting
from ..pixels import PixelProbe
from ..policy import ScrubPolicy

ORIENTATION_GROUPS = ("IFD0", "XMP-tiff")
"""Where ExifTool reports an Orientation; each is kept where it was."""


Tags = Allowlist | Callable[[ScrubPolicy], Allowlist]
"""What ExifTool names one source of structure or kept item: a fixed list, or one that depends on the policy."""
_NUMBER = re.compile(r"(?<= )\d+(?=[ )]|$)")


def merged_tags(*tables: Mapping[str, Tags]) -> dict[str, Tags]:
    """One table of several: the lists of a source two tables share are joined (fixed lists only)."""
    merged: dict[str, Tags] = {}
    for table in tables:
        for source, tags in table.items():
            known = merged.get(source)
            if known is None:
                merged[source] = tags
            elif isinstance(known, Allowlist) and isinstance(tags, Allowlist):
                merged[source] = known | tags
            else:
                raise ValueError(f"two policy-dependent lists for {source!r}")
    return merged


def source_of(label: str) -> str:
    """A span label with its numbers as ``#`` (``item 3 (grid)`` -> ``item # (grid)``; not inside a name such as
    ``ISO 21496-1``): the key of a source."""
    return _NUMBER.sub("#", label)


class Refusal(Exception):
    """A walker's reason to refuse a file that is well-formed but cannot be cleaned losslessly (one line)."""


class FormatHandler(ABC):
    """How one container format is recognised, modelled, rewritten and checked."""

    name: ClassVar[str]
    mime_type: ClassVar[str]
    extension: ClassVar[str]
    """Extension of the engine's own temp files (ExifTool picks its reader and writer from it)."""
    mime_types: ClassVar[frozenset[str]]
    """``File:MIMEType`` values ExifTool may report for this format."""
    pillow_formats: ClassVar[frozenset[str]]
    leftover_group: ClassVar[str]
    """The group under which the byte model's findings are reported (e.g. ``JPEG``, ``PNG-chunks``)."""
    ranged_audit: ClassVar[bool] = True
    """The walker finds every structure without reading image data, so an audit may skip it (ranged GETs)."""
    sparse_fill: ClassVar[int] = 0
    """Bytes of skipped image data an audit's sparse copy holds as 0xFF rather than zeros (from the start of the
    file): where ExifTool's reading scans image data for something that is not there, zeros can make its pattern
    search crawl (a movie's media data: see the movie handler)."""
    file_suffixes: ClassVar[tuple[str, ...]] = ()
    """Suffixes files of this format usually have: a hint for input and output only (an audit reads an object it
    will need whole in a single GET), never what decides the format (the magic bytes do)."""
    exiftool_read_args: ClassVar[tuple[str, ...]] = ()
    """Extra arguments of ExifTool's second-opinion read for this format."""
    structure_tags: ClassVar[Mapping[str, Tags]] = {}
    """What ExifTool reports of each kind of structure and kept item this handler's walker parses, by source
    (:func:`source_of` of the span labels). The allowlist of a file is the union over the sources its byte model
    holds as image data, structure or kept items (:meth:`allowlist`); every other tag is a leftover."""

    @classmethod
    @abstractmethod
    def matches(cls, head: bytes) -> bool:
        """True when the first bytes of a file are this format's signature."""

    def refusal(self, head: bytes) -> str | None:
        """A reason to refuse a variant of the format up front (e.g. BigTIFF), or None."""
        return None

    @abstractmethod
    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> ByteModel:
        """The byte model of ``data``. ``verify=False`` skips checks that read image data (CRCs,
        decompression), for an audit that did not fetch it. Raises ``StructureError`` (malformed) or
        :class:`Refusal` (well-formed but not cleanable)."""

    def sources(self, model: ByteModel) -> Iterable[str]:
        """The sources of the spans of ``model`` (what its allowlist is made of). A block the walker found but did
        not accept (a kept item not in canonical form) is a source too: it is a finding of the byte model already,
        so ExifTool's list need only name what in it is not a kept value (its GPS, not its Orientation)."""
        return {source_of(span.label) for span in model.spans}

    def allowlist(self, model: ByteModel, policy: ScrubPolicy) -> Allowlist:
        """What ExifTool may report of the file ``model`` describes: the tags of its structure and kept items."""
        lists = []
        for source in self.sources(model):
            tags = self.structure_tags.get(source)
            if tags is not None:
                lists.append(tags if isinstance(tags, Allowlist) else tags(policy))
        return Allowlist.union(lists)

    kept_items: ClassVar[Mapping[str, str]] = {}
    """Sources of kept items (EXIF, XMP, ICC) that the walker labels metadata when they are not in canonical form,
    with their kind (``exif``, ``xmp``, ``icc``): such an item may still be harmless (:meth:`noncanonical`)."""

    def item_bytes(self, kind: str, spans: list[Span], data: Buffer) -> bytes | None:
        """What a kept item held in ``spans`` (in file order) says: an EXIF block's TIFF structure, an XMP packet,
        an ICC profile; None when it cannot be cut out (the item then stays a finding)."""
        return None

    def noncanonical(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> list[Span]:
        """The metadata spans that are kept items written another way than the engine's but harmless: every field
        one the policy keeps, every byte accounted for (:mod:`..kept.accounting`). The engine still rewrites them;
        the audit calls such a file clean, noting it is not in canonical form."""
        items: dict[str, list[Span]] = {}
        for span in model.metadata():
            if self.kept_items.get(self.item_source(span.label)) is not None:
                items.setdefault(span.label, []).append(span)
        harmless: list[Span] = []
        for label, spans in items.items():
            kind = self.kept_items[self.item_source(label)]
            payload = self.item_bytes(kind, spans, data)
            if payload is not None and accounting.harmless(kind, payload, policy):
                harmless += spans
        return harmless

    def item_source(self, label: str) -> str:
        """The source a span label names (what :attr:`kept_items` is keyed by)."""
        return source_of(label)

    def check_decodes(self, path: Path, policy: ScrubPolicy) -> None:  # noqa: B027 - an optional hook
        """Where the byte model cannot tell a corrupt file from a good one without decoding (GIF), decode it;
        raises ``ProbeError``. Nothing to do for most formats."""

    def probe(self, path: Path) -> PixelProbe | None:
        """The independent reader's view of the file's headers where it is not Pillow's (videos: FFmpeg); None:
        the engine asks Pillow. Raises ``ProbeError``."""
        return None

    @abstractmethod
    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        """The clean file: image data copied byte for byte, structure and kept items in canonical form."""

    def write(self, model: ByteModel, data: Buffer, source: Path, output: Path, policy: ScrubPolicy) -> None:
        """Write the clean file to ``output`` (``data`` is ``source`` mapped). By default
        the bytes :meth:`rewrite` returns; a handler of large files (videos) streams from ``source`` instead, so
        that memory stays flat whatever the size of the file. Raises :class:`Refusal`."""
        output.write_bytes(self.rewrite(model, data, policy))
