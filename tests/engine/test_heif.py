"""HEIF/HEIC and AVIF: real files from devices and the corpus, grids, HDR properties, per-image colour profiles,
numeric hiding places and budgets.

The oracle is independent of the engine: pillow-heif (libheif) decodes every top-level image of a HEIC with its
depth maps and auxiliary images, Pillow's AVIF plugin (libavif) decodes AVIF, LittleCMS renders through each
image's colour profile, and ExifTool (``-a -G1 -u -ee``) reads the outputs.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image, ImageCms

from exif_scrubber import Outcome, Scrubber, ScrubPolicy
from exif_scrubber.formats import heif_meta as hm
from exif_scrubber.formats.heif import HeicHandler, HeifModel
from exif_scrubber.formats.heif_items import References, reachable
from exif_scrubber.formats.isobmff import Box, iter_boxes
from exif_scrubber.reading import read

from . import hostile
from .conftest import CORPUS
from .hostile import NewItem, avif, heic, heif_edit, next_item_id

pillow_heif.register_heif_opener()

DEVICES = CORPUS.parent / "devices"
HEIF_SUFFIXES = {".heic", ".heif", ".hif", ".avif", ".avifs"}
TRUNCATED = {"pillow_heif__corrupted.heic", "pillow_heif__truncated.heic"}
"""Corpus files cut short by their publishers: refused, naming the truncation."""
PERSONAL = re.compile(r"GPS|Make$|Model|Serial|Owner|Artist|Creator|Software|Lens|Description|Comment|UniqueID|Date")


def real_heif_files() -> list[Path]:
    found = [p for folder in (DEVICES, CORPUS) if folder.is_dir() for p in sorted(folder.iterdir())]
    return [p for p in found if p.suffix.lower() in HEIF_SUFFIXES]


def top_level_images(path: Path) -> list[Any]:
    """What a viewer shows: each top-level image's pixels, depth maps (with their depth representation) and the
    types of its auxiliary images (pillow-heif); for AVIF, every frame as Pillow's libavif decodes it."""
    if path.read_bytes()[8:12] in (b"avif", b"avis"):
        with warnings.catch_warnings(), Image.open(path) as image:
            warnings.simplefilter("ignore")
            frames = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frames.append((image.size, image.mode, image.convert("RGBA").tobytes()))
            return frames
    decoded = []
    for image in pillow_heif.open_heif(str(path), convert_hdr_to_8bit=False):
        depth = [(d.size, bytes(d.data), d.info.get("metadata")) for d in image.info.get("depth_images", [])]
        aux = sorted(image.info.get("aux", {})) if isinstance(image.info.get("aux"), dict) else []
        decoded.append((image.size, image.mode, bytes(image.data), depth, aux, image.info.get("primary")))
    return decoded


def rendered(profile: bytes | None) -> bytes | None:
    """A fixed gradient converted from ``profile`` to sRGB by LittleCMS: equal when the profiles render alike."""
    if not profile:
        return None
    sample = Image.linear_gradient("L").resize((64, 64)).convert("RGB")
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    except (OSError, ImageCms.PyCMSError):
        return b"unreadable"
    srgb = ImageCms.createProfile("sRGB")
    return ImageCms.profileToProfile(sample, source, srgb, outputMode="RGB").tobytes()  # type: ignore[union-attr]


def profiles(path: Path) -> list[bytes | None]:
    if path.read_bytes()[8:12] in (b"avif", b"avis"):
        with Image.open(path) as image:
            return [rendered(image.info.get("icc_profile"))]
    return [rendered(image.info.get("icc_profile")) for image in pillow_heif.open_heif(str(path))]


def personal_tags(scrubber: Scrubber, path: Path) -> list[str]:
    tags = read(scrubber.pool, str(path), extra=("-ee",)).tags
    return [
        f"{t.group}:{t.name}"
        for t in tags
        if PERSONAL.search(t.name)
        and not t.group.startswith("ICC")
        and t.group not in ("File", "System", "ExifTool", "Composite")
        and str(t.value) != "0000:00:00 00:00:00"
    ]


def scrub(scrubber: Scrubber, source: Path, policy: ScrubPolicy | None = None) -> Path:
    target = source.with_name("clean-" + source.name)
    if policy is None:
        report = scrubber.scrub_file(source, target)
    else:
        with Scrubber(policy) as other:
            report = other.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    return target


# ---------------------------------------------------------------------- real files


@pytest.mark.corpus
@pytest.mark.parametrize("path", real_heif_files(), ids=lambda p: p.name)
def test_real_heif_files_are_cleaned_and_show_the_same(scrubber: Scrubber, tmp_path: Path, path: Path) -> None:
    """Every HEIF/AVIF of ../shared/devices and ../shared/corpus: accepted (or refused for being cut short), every
    top-level image, depth map and auxiliary image decodes identically, every image's colour profile renders the
    same, ExifTool finds no personal data, and the output is already in canonical form (a second run leaves it)."""
    target = tmp_path / path.name
    report = scrubber.scrub_file(path, target)
    if path.name in TRUNCATED:
        assert report.outcome is Outcome.FAILED and "truncated" in str(report.reason)
        return
    assert report.outcome is Outcome.CLEANED, report.reason
    assert top_level_images(path) == top_level_images(target)
    assert profiles(path) == profiles(target)
    assert not personal_tags(scrubber, target)
    again = scrubber.scrub_file(target, tmp_path / "again" / path.name)
    assert again.outcome is Outcome.ALREADY_CLEAN, again.leftovers_before


def test_the_real_file_sets_are_present() -> None:
    if not DEVICES.is_dir() or not CORPUS.is_dir():
        pytest.skip(f"real files not found at {DEVICES} and {CORPUS} (they ship beside the repo on CI only)")
    names = {p.name for p in real_heif_files()}
    assert {"aom__Summer_in_Tomsk_720p_5x4_grid.avif", "androidx__sample_still_photo.heic"} <= names


# ---------------------------------------------------------------------- generated files


@pytest.mark.parametrize("build", [heic, avif, lambda: heic(two=True)], ids=["HEIC", "AVIF", "HEIC collection"])
def test_the_test_writer_makes_canonical_files(scrubber: Scrubber, tmp_path: Path, build: Any) -> None:
    """The control of the planted-token cases: without a hiding place, heif_edit's output is clean."""
    source = tmp_path / "base.heif"
    source.write_bytes(heif_edit(build()))
    assert scrubber.scan(source).clean


def _ispe(width: int, height: int) -> bytes:
    return hostile._full(b"ispe", struct.pack(">II", width, height))


def _grid(base: bytes, tiles: tuple[int, ...], rows: int, columns: int, size: tuple[int, int], idat: bool) -> bytes:
    grid = next_item_id(base)
    return heif_edit(
        base,
        items=[
            NewItem(
                b"grid",
                struct.pack(">BBBBHH", 0, 0, rows - 1, columns - 1, *size),
                references=[(b"dimg", tiles)],
                properties=[(_ispe(*size), True)],
                in_idat=idat,
            ),
            NewItem(b"Exif", b"\0\0\0\0" + hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0")]), describes=grid),
        ],
        hidden=set(tiles),
        primary=grid,
    )


@pytest.mark.parametrize("idat", [True, False], ids=["descriptor in idat", "descriptor in mdat"])
@pytest.mark.parametrize("maker", [heic, avif], ids=["HEIC", "AVIF"])
def test_grids_are_kept_and_decode_identically(scrubber: Scrubber, tmp_path: Path, idat: bool, maker: Any) -> None:
    """A 2 x 2 grid of two different tiles (as cameras store large photos); the descriptor in idat (Canon, Sony,
    Apple, libavif) or in mdat: the output holds it in idat, in canonical form."""
    tiles = heic(two=True) if maker is heic else _avif_tiles(4)
    source = tmp_path / ("grid.heic" if maker is heic else "grid.avif")
    size = (128, 96) if maker is heic else (128, 128)
    source.write_bytes(_grid(tiles, (1, 2, 2, 1) if maker is heic else (1, 2, 3, 4), 2, 2, size, idat))
    target = scrub(scrubber, source)
    assert b"Cam" not in target.read_bytes()
    assert top_level_images(source) == top_level_images(target)
    with Image.open(target) as image:
        assert image.size == size


def _avif_tiles(count: int) -> bytes:
    """An AVIF with ``count`` different 64 x 64 images (each made by Pillow, the items appended to the first
    file's): libavif wants grid tiles of at least 64 x 64."""
    data = avif(size=(64, 64))
    for seed in range(1, count):
        other = avif(size=(64, 64), seed=seed)
        kind, start, end = next(t for t in hostile._children(other, 0, len(other)) if t[0] == b"meta")
        parsed = hm.parse_meta(other, Box(start, end, kind, start + 8))
        item = parsed.items[parsed.primary]
        payload = b"".join(other[s : s + n] for s, n in item.extents)
        props = [(other[p.start : p.end], e) for e, p in ((e, parsed.properties[i - 1]) for e, i in item.properties)]
        data = heif_edit(data, items=[NewItem(b"av01", payload, properties=props)])
    return data


def test_hdr_avif_keeps_its_light_levels(scrubber: Scrubber, tmp_path: Path) -> None:
    """clli and mdcv (HDR signalling): kept field by field, the values ExifTool reads unchanged."""
    clli = hostile._box(b"clli", struct.pack(">HH", 1000, 400))
    mdcv = hostile._box(b"mdcv", hostile.MDCV)
    source = tmp_path / "hdr.avif"
    source.write_bytes(
        heif_edit(avif(), properties=[clli, mdcv], items=[NewItem(b"mime", b"<x " + b"Cam", b"text/plain", 1)])
    )
    target = scrub(scrubber, source)
    assert clli in target.read_bytes() and mdcv in target.read_bytes()
    levels = {t.name: t.value for t in read(scrubber.pool, str(target)).tags if "LightLevel" in t.name}
    assert levels == {"MaxContentLightLevel": 1000, "MaxPicAverageLightLevel": 400}
    assert top_level_images(source) == top_level_images(target)


def _profile(shift: int) -> bytes:
    """An sRGB profile from LittleCMS with its red colorant moved by ``shift``: a different, valid profile."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", profile, 128)
    for index in range(count):
        entry = 132 + 12 * index
        if profile[entry : entry + 4] == b"rXYZ":
            at = struct.unpack_from(">I", profile, entry + 4)[0] + 8
            struct.pack_into(">i", profile, at, struct.unpack_from(">i", profile, at)[0] + shift)
    profile[84:100] = bytes(16)
    return bytes(profile)


def test_every_top_level_image_keeps_its_own_colour_profile(scrubber: Scrubber, tmp_path: Path) -> None:
    """Two top-level images, each with its own ICC profile (once refused for ExifTool's warning about the second)."""
    heif = pillow_heif.from_pillow(hostile.pixels((64, 48)))
    heif.info["icc_profile"] = _profile(0)
    second = heif.add_from_pillow(hostile.pixels((64, 48), seed=5))
    second.info["icc_profile"] = _profile(3000)
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    heif.info["exif"] = exif.tobytes()
    source = tmp_path / "two-profiles.heic"
    heif.save(str(source), quality=50)
    before = profiles(source)
    assert len(before) == 2 and before[0] and before[1] and before[0] != before[1]
    target = scrub(scrubber, source)
    assert profiles(target) == before
    assert top_level_images(source) == top_level_images(target)


def _with_depth_map(subtype: bytes) -> bytes:
    """A photo and a monochrome depth map (an auxiliary image with the HEVC depth URN and ``subtype``)."""
    heif = pillow_heif.from_pillow(hostile.pixels((64, 48)))
    heif.add_from_pillow(hostile.pixels((64, 48), seed=5).convert("L"))
    buffer = io.BytesIO()
    heif.save(buffer, quality=50)
    aux_c = hostile._full(b"auxC", b"urn:mpeg:hevc:2015:auxid:2\0" + subtype)
    return heif_edit(buffer.getvalue(), references=[(b"auxl", 2, (1,))], associate=[(2, aux_c, True)], hidden={2})


def test_an_iphone_depth_map_keeps_its_depth_representation(scrubber: Scrubber, tmp_path: Path) -> None:
    """The auxC subtype of an HEVC depth map is the one subtype kept: libheif reads d_min/d_max from it."""
    source = tmp_path / "depth.heic"
    source.write_bytes(_with_depth_map(hostile._depth_subtype(b"")))
    assert scrubber.scan(source).clean
    depth = top_level_images(source)[0][3]
    assert depth and depth[0][2]["d_min"] == pytest.approx(1.498, abs=1e-3)
    planted = tmp_path / "planted.heic"
    planted.write_bytes(_with_depth_map(hostile._depth_subtype(b"Cam")))
    target = scrub(scrubber, planted)
    assert b"Cam" not in target.read_bytes()
    kept = top_level_images(target)[0][3]
    assert kept[0][:2] == top_level_images(planted)[0][3][0][:2]  # the depth map itself is kept


# ---------------------------------------------------------------------- numeric hiding places


def _meta_flags(token: bytes) -> bytes:
    return heif_edit(heic(), meta_flags=int.from_bytes(token[:3], "big"))


NUMERIC: dict[str, tuple[Any, str]] = {
    "hdlr pre-defined and reserved bytes": (lambda t: heif_edit(heic(), hdlr_reserved=t[:16]), "hdlr"),
    "meta flags": (_meta_flags, "meta: flags"),
    "infe flags": (lambda t: heif_edit(heic(), entry_flags={1: int.from_bytes(t[:3], "big") & ~1}), "item 1 entry"),
    "entity group id and flags": (
        lambda t: heif_edit(
            heic(two=True), groups=hostile._full(b"altr", t[:4] + struct.pack(">III", 2, 1, 2), 0, t[4] << 8 | t[5])
        ),
        "entity group altr",
    ),
    "entity groups of types that spell text": (
        lambda t: heif_edit(
            heic(two=True),
            groups=b"".join(
                hostile._full(k, struct.pack(">IIII", 3 + i, 2, 1, 2))
                for i, k in enumerate(t[j : j + 4] for j in range(0, 16, 4))
            ),
        ),
        "entity group",
    ),
    "ftyp minor version": (
        lambda t: heif_edit(heic())[:16].replace(b"\0\0\0\0", t[:4], 1) + heif_edit(heic())[16:],
        "ftyp",
    ),
    "iloc base offsets": (lambda t: heif_edit(heic(), base_offsets=True), "meta: layout not canonical"),
    "irot and imir reserved bits": (
        lambda t: heif_edit(heic(), properties=[hostile._box(b"irot", b"\xfc"), hostile._box(b"imir", b"\xfe")]),
        "property irot",
    ),
}
"""Free bits inside numeric fields: each value is at most a few bytes, so the proof is that those exact bytes are
gone from the output (and the walker names the place), not a 16-byte token."""


@pytest.mark.parametrize("name", list(NUMERIC))
def test_free_bits_in_numeric_fields_are_found_and_zeroed(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    secret = b"\xa5\x5a\xc3\x3c\x99\x66\xe7\x18\xa5\x5a\xc3\x3c\x99\x66\xe7\x18"
    build, label = NUMERIC[name]
    source = tmp_path / "numeric.heic"
    source.write_bytes(build(secret))
    scan = scrubber.scan(source)
    findings = [f for group in scan.leftovers.values() for f in group]
    assert any(f.startswith(label) for f in findings), findings
    target = scrub(scrubber, source)
    assert secret[:4] not in target.read_bytes() and secret[1:4] not in target.read_bytes()
    assert scrubber.scan(target).clean
    assert top_level_images(source) == top_level_images(target)


# ---------------------------------------------------------------------- budgets (issue 18)


def _derived_chain(count: int, padding: int = 0) -> bytes:
    """``count`` identity-derived items, each deriving from the next and the last from the coded image, their
    references listed from the far end of the chain (so a fixed-point pass over the references reaches one more
    item per pass), written directly (heif_edit would be quadratic)."""
    base = heic()
    kind, start, end = next(t for t in hostile._children(base, 0, len(base)) if t[0] == b"meta")
    parsed = hm.parse_meta(base, Box(start, end, kind, start + 8))
    coded = parsed.items[parsed.primary]
    payload = b"".join(base[s : s + n] for s, n in coded.extents)
    ids = list(range(2, 2 + count))
    infe = [hostile._full(b"infe", struct.pack(">HH", 1, 0) + b"hvc1\0", 2, 1)]
    infe += [hostile._full(b"infe", struct.pack(">HH", i, 0) + b"iden\0", 2, int(i != 2)) for i in ids]
    refs = [hostile._box(b"dimg", struct.pack(">HHH", i, 1, i + 1 if i + 1 < 2 + count else 1)) for i in ids]
    ipco = b"".join(base[p.start : p.end] for p in parsed.properties)
    links = bytes((int(e) << 7) | i for e, i in coded.properties)
    ipma = struct.pack(">IHB", 2, 1, len(links)) + links + struct.pack(">HB", 2, len(links)) + links
    iprp = hostile._box(b"iprp", hostile._box(b"ipco", ipco) + hostile._full(b"ipma", ipma))

    def meta(offset: int) -> bytes:
        iloc = struct.pack(">HH", 0x4400, 1 + count) + struct.pack(">HHHII", 1, 0, 1, offset, len(payload))
        iloc += b"".join(struct.pack(">HHH", i, 0, 0) for i in ids)
        body = hostile._full(b"hdlr", bytes(4) + b"pict" + bytes(13)) + hostile._full(b"pitm", struct.pack(">H", 2))
        body += hostile._full(b"iloc", iloc, 0) + hostile._full(b"iinf", struct.pack(">H", 1 + count) + b"".join(infe))
        body += hostile._full(b"iref", b"".join(reversed(refs))) + iprp
        return hostile._full(b"meta", body)

    ftyp = base[: struct.unpack_from(">I", base)[0]]
    at = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(at) + hostile._box(b"mdat", payload + bytes(padding))


def test_a_long_backwards_chain_of_derived_items_is_walked_in_linear_time() -> None:
    """The chain of issue 18 (15,000 items took 83 s): every item is reached, each visited once."""
    data = _derived_chain(15_000)
    kind, start, end = next(t for t in hostile._children(data, 0, len(data)) if t[0] == b"meta")
    meta = hm.parse_meta(data, Box(start, end, kind, start + 8), hm.Budget(100_000_000))
    assert reachable(meta, References(meta), lambda _: True) == set(meta.items)


def test_a_chain_within_the_budget_is_walked_whole() -> None:
    """2,000 chained items in a file large enough for them: walked, every item structure (libheif itself refuses
    such a file: an iden item may not derive from another, and it reads 1,000 items at most)."""
    data = _derived_chain(2_000, padding=200_000)
    model = HeicHandler().walk(data, ScrubPolicy())
    assert isinstance(model, HeifModel) and len(model.kept_items) == 2_001
    assert "bytes no kept item references" in model.findings()


def test_more_items_than_the_file_size_allows_are_refused_naming_the_budget(scrubber: Scrubber, tmp_path: Path) -> None:
    source = tmp_path / "chain.heic"
    source.write_bytes(_derived_chain(15_000))
    assert len(source.read_bytes()) < 1024 * 1024
    report = scrubber.scrub_file(source, tmp_path / "out.heic")
    assert report.outcome is Outcome.FAILED
    assert re.fullmatch(r"too many items for the file's size \(15001 > \d+\)", str(report.reason)), report.reason


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("item references", lambda: heif_edit(heic(), references=[(b"dimg", 1, (1,) * 60_000)] * 2)),
        (
            "properties",
            lambda: heif_edit(heic(), patch={b"pixi": lambda raw: raw + hostile._box(b"free", b"") * 1_200}),
        ),
        (
            "entity-group members",
            lambda: heif_edit(heic(), groups=hostile._full(b"altr", struct.pack(">II", 9, 20_000) + bytes(80_000))),
        ),
    ],
)
def test_counts_beyond_their_budget_are_refused(scrubber: Scrubber, tmp_path: Path, kind: str, make: Any) -> None:
    source = tmp_path / "counts.heic"
    source.write_bytes(make())
    report = scrubber.scrub_file(source, tmp_path / "out.heic")
    assert report.outcome is Outcome.FAILED
    assert str(report.reason).startswith(f"too many {kind} for the file's size"), report.reason


def test_extents_of_unspecified_length_are_refused_at_once() -> None:
    """iloc with a length size of 0 and 65,535 extents per item: refused at the first item, not looped over."""
    iloc = hostile._full(b"iloc", struct.pack(">HH", 0x4000, 1) + struct.pack(">HHHH", 1, 0, 0, 0xFFFF), 1)
    meta = hostile._full(
        b"meta",
        hostile._full(b"hdlr", bytes(4) + b"pict" + bytes(13))
        + hostile._full(b"pitm", b"\0\1")
        + hostile._full(b"iinf", b"\0\1" + hostile._full(b"infe", b"\0\1\0\0hvc1\0", 2))
        + iloc,
    )
    with pytest.raises(hm.BoxError, match="unspecified length"):
        hm.parse_meta(meta, Box(0, len(meta), b"meta", 8))


# ---------------------------------------------------------------------- where a kept top-level box goes


def test_a_kept_top_level_box_is_written_after_mdat_with_offsets_intact(tmp_path: Path) -> None:
    """The place the motion-photo work hooks into: a box in ``HeifModel.kept_boxes`` follows mdat, and the images
    still decode (their offsets do not depend on it)."""
    data = heif_edit(heic(), top_level=hostile._box(b"mpvd", b"movie"))
    handler = HeicHandler()
    model = handler.walk(data, ScrubPolicy())
    assert isinstance(model, HeifModel)
    assert "mpvd box" in model.findings()  # not a movie: removed
    model.kept_boxes.append(hostile._box(b"mpvd", b"clean movie"))
    output = handler.rewrite(model, data, ScrubPolicy())
    assert output.endswith(hostile._box(b"mpvd", b"clean movie"))
    kinds = [b.type for b in iter_boxes(output, 0, len(output))]
    assert kinds == [b"ftyp", b"meta", b"mdat", b"mpvd"]
    source, target = tmp_path / "in.heic", tmp_path / "out.heic"
    source.write_bytes(data)
    target.write_bytes(output)
    assert top_level_images(source) == top_level_images(target)
