"""The one interface every supported format implements (one module per format, as in mat2).

A format handler owns everything about its format: how it is recognised, its strict walker (the byte model
of :mod:`..bytemodel`, which also decides what the audit must read), its allowlist (what counts as
structure or a kept item) and its rewrite. Handlers whose ``writer`` is ``"engine"`` rewrite files
themselves by dropping whole blocks and writing kept items in canonical form; the others are rewritten
by ExifTool with the arguments they give, and their output is then held to the same byte model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

from ..bytemodel import Buffer, ByteModel
from ..leftovers import Tag
from ..pixels import PixelProbe
from ..policy import ScrubPolicy

ORIENTATION_GROUPS = ("IFD0", "XMP-tiff")
"""Where ExifTool reports an Orientation; each is kept where it was."""


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
    writer: ClassVar[Literal["engine", "exiftool"]] = "engine"
    is_tiff: ClassVar[bool] = False
    ranged_audit: ClassVar[bool] = True
    """The walker finds every structure without reading image data, so an audit may skip it (ranged GETs)."""
    exiftool_read_args: ClassVar[tuple[str, ...]] = ()
    """Extra arguments of ExifTool's second-opinion read for this format."""

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

    def check_decodes(self, path: Path, policy: ScrubPolicy) -> None:  # noqa: B027 - an optional hook
        """Where the byte model cannot tell a corrupt file from a good one without decoding (GIF), decode it;
        raises ``ProbeError``. Nothing to do for most formats."""

    def probe(self, path: Path) -> PixelProbe | None:
        """The independent reader's view of the file's headers where it is not Pillow's (videos: FFmpeg); None:
        the engine asks Pillow. Raises ``ProbeError``."""
        return None

    def finish(self, path: Path, policy: ScrubPolicy) -> None:  # noqa: B027 - an optional hook
        """After ExifTool's passes (``writer == "exiftool"``): remove in place what ExifTool's writer leaves and
        the byte model flags (the movie header's dates and names, dropped tracks); raises ``Refusal`` or
        ``StructureError``. Nothing to do for most formats."""

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        """The clean file (``writer == "engine"``): image data and structure copied byte for byte."""
        raise NotImplementedError(f"{self.name} is rewritten by ExifTool")

    def exiftool_args(self, model: ByteModel, tags: Sequence[Tag], policy: ScrubPolicy) -> list[str]:
        """ExifTool arguments of the main pass (``writer == "exiftool"``; file names are added by the engine)."""
        raise NotImplementedError(f"{self.name} is rewritten by the engine")

    def targeted_args(self, leftovers: dict[str, list[str]]) -> list[str]:
        """Arguments of a second ExifTool pass that deletes named leftovers one by one."""
        return [f"-{group}:{name}=" for group, names in leftovers.items() if ":" not in group for name in names]
