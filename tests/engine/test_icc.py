"""ICC profiles in canonical form: renders the same, carries nothing else, refuses what it cannot parse."""

from __future__ import annotations

import hashlib
import io
import random
import secrets
import struct
import time
from collections.abc import Callable, Iterator

import pillow_heif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from exif_scrubber.kept.icc import IccError, is_canonical_icc, reduce_icc

from .conftest import CORPUS, CORPUS_SKIP_REASON, corpus_files

pillow_heif.register_heif_opener()

Z4 = bytes(4)
SRGB = ImageCms.createProfile("sRGB")
INTENTS = (0, 1, 2, 3)
IDENTITY_3X3 = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x10000)


# -- building profiles (independent of the module under test) ---------------------------------------------------


def s15(value: float) -> int:
    return round(value * 65536)


def xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + Z4 + struct.pack(">3i", s15(x), s15(y), s15(z))


def curv(values: list[int]) -> bytes:
    return b"curv" + Z4 + struct.pack(f">I{len(values)}H", len(values), *values)


def para(function: int, params: list[float]) -> bytes:
    return b"para" + Z4 + struct.pack(f">HH{len(params)}i", function, 0, *(s15(p) for p in params))


def text(value: str) -> bytes:
    return b"text" + Z4 + value.encode() + b"\0"


def mluc(records: list[tuple[str, str]]) -> bytes:
    """Records of (language+country, text), e.g. ("enUS", "sRGB")."""
    head = b"mluc" + Z4 + struct.pack(">II", len(records), 12)
    pos = 16 + 12 * len(records)
    table, body = b"", b""
    for code, value in records:
        encoded = value.encode("utf-16-be")
        table += code.encode() + struct.pack(">II", len(encoded), pos + len(body))
        body += encoded
    return head + table + body


def text_description(ascii_text: str, unicode_text: str, mac_text: str) -> bytes:
    """v2 textDescriptionType with all three parts filled."""
    a = ascii_text.encode() + b"\0"
    u = unicode_text.encode("utf-16-be") + b"\0\0"
    m = mac_text.encode() + b"\0"
    return b"desc" + Z4 + struct.pack(">I", len(a)) + a + struct.pack(">II", 0, len(u) // 2) + u + \
        struct.pack(">HB", 0, len(m)) + m.ljust(67, b"\0")  # fmt: skip


def pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def icc_profile(
    tags: list[tuple[bytes, bytes]],
    *,
    version: bytes = b"\x04\x30\0\0",
    device: bytes = b"mntr",
    space: bytes = b"RGB ",
    pcs: bytes = b"XYZ ",
    gap: bytes = b"",
    tail: bytes = b"",
    reserved: bytes = b"",
    beyond: bytes = b"",
    date: tuple[int, ...] = (2024, 5, 6, 7, 8, 9),
) -> bytes:
    """Header, tag table, tag data in order (equal data placed once, ``gap`` after each), ``tail``; then
    ``beyond`` after the declared size."""
    start = 132 + 12 * len(tags)
    placed: dict[bytes, int] = {}
    body, table = bytearray(), bytearray()
    for sig, data in tags:
        if data not in placed:
            placed[data] = start + len(body)
            body += pad4(data) + pad4(gap)
        table += struct.pack(">4sII", sig, placed[data], len(data))
    body += tail
    header = bytearray(128)
    header[0:4] = struct.pack(">I", start + len(body))
    header[4:8] = b"lcms"
    header[8:12] = version
    header[12:24] = device + space + pcs
    header[24:36] = struct.pack(">6H", *date)
    header[36:44] = b"acspAPPL"
    header[68:80] = struct.pack(">3i", 0xF6D6, 0x10000, 0xD32D)
    header[80:84] = b"test"
    header[100 : 100 + len(reserved)] = reserved
    return bytes(header) + struct.pack(">I", len(tags)) + table + body + beyond


def tag_table(profile: bytes) -> list[tuple[bytes, int, int]]:
    count = struct.unpack_from(">I", profile, 128)[0]
    return [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]


def tags_of(profile: bytes) -> dict[bytes, bytes]:
    return {sig: profile[off : off + size] for sig, off, size in tag_table(profile)}


def profile_bytes(name: str) -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile(name)).tobytes()  # type: ignore[arg-type]


class Tokens:
    """Unique ASCII tokens; ``found_in`` searches raw bytes for each, as ASCII and as UTF-16."""

    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self) -> str:
        token = f"TOKEN-ICC-{len(self.issued):03d}"  # 13 bytes: fits the unused grid bytes of a 3-input CLUT
        self.issued.append(token)
        return token

    def found_in(self, data: bytes) -> list[str]:
        return [t for t in self.issued if t.encode() in data or t.encode("utf-16-be") in data]


# -- rendering ---------------------------------------------------------------------------------------------------


def gradient(mode: str) -> Image.Image:
    """A 256x64 gradient covering every channel value."""
    bands = len(mode) if mode != "LAB" else 3
    rows: list[int] = []
    for y in range(64):
        for x in range(256):
            rows.extend(((x + band * y * 4) * (band + 1)) % 256 for band in range(bands))
    return Image.frombytes(mode, (256, 64), bytes(rows))


def render(profile: bytes, mode: str, intent: int = 0) -> bytes:
    """The test image converted from ``profile`` to sRGB."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    transform = ImageCms.buildTransform(source, SRGB, mode, "RGB", renderingIntent=ImageCms.Intent(intent))
    result = ImageCms.applyTransform(gradient(mode), transform)
    assert result is not None
    return result.tobytes()


def render_into(profile: bytes, intent: int = 0) -> bytes:
    """The RGB test image converted from sRGB into ``profile`` (its B2A / inverse direction)."""
    target = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    transform = ImageCms.buildTransform(SRGB, target, "RGB", "RGB", renderingIntent=ImageCms.Intent(intent))
    result = ImageCms.applyTransform(gradient("RGB"), transform)
    assert result is not None
    return result.tobytes()


MODES = {b"RGB ": "RGB", b"CMYK": "CMYK", b"GRAY": "L", b"Lab ": "LAB"}


def assert_renders_same(original: bytes, reduced: bytes, intents: tuple[int, ...] = INTENTS) -> None:
    mode = MODES[original[16:20]]
    for intent in intents:
        assert render(reduced, mode, intent) == render(original, mode, intent), f"intent {intent}"


# -- canonical-form checks (independent re-implementation) -------------------------------------------------------


def expected_id(profile: bytes) -> bytes:
    buf = bytearray(profile)
    buf[44:48] = bytes(4)
    buf[64:68] = bytes(4)
    buf[84:100] = bytes(16)
    return hashlib.md5(bytes(buf)).digest()


def assert_canonical_layout(out: bytes) -> None:
    """Size, ID, reserved zeros and a gap-free, aligned, zero-padded tag data layout."""
    assert struct.unpack_from(">I", out)[0] == len(out) and len(out) % 4 == 0
    assert out[84:100] == expected_id(out)
    assert out[100:128] == bytes(28) and out[10:12] == bytes(2)
    table = tag_table(out)
    pos = 132 + 12 * len(table)
    seen: dict[int, int] = {}
    for _, off, size in table:
        if off in seen:
            assert seen[off] == size
            continue
        assert off == pos, "tag data is not laid out contiguously in order of first appearance"
        seen[off] = size
        pos = off + size
        assert out[pos : pos + (-pos % 4)] == bytes(-pos % 4)
        pos += -pos % 4
    assert pos == len(out)


def reduce_checked(profile: bytes) -> bytes:
    out = reduce_icc(profile)
    assert reduce_icc(out) == out
    assert is_canonical_icc(out)
    assert_canonical_layout(out)
    return out


# -- fixtures: profiles built here ------------------------------------------------------------------------------


LUT_MATRIX = struct.pack(">12i", *(s15(v) for v in (0.9, 0.05, 0.02, 0.03, 0.8, 0.1, 0.01, 0.1, 0.95, 0.01, 0, 0)))


class LutParts:
    """Random but valid lut8 / lut16 / lutAtoB / lutBtoA tags; with ``tokens``, tokens in every hiding place."""

    def __init__(self, rng: random.Random, tokens: Tokens | None, grid: int) -> None:
        self.rng, self.tokens, self.grid = rng, tokens, grid

    def token(self) -> bytes:
        return self.tokens().encode() if self.tokens else b""

    def u16s(self, count: int, ordered: bool = False) -> list[int]:
        values = [self.rng.randrange(65536) for _ in range(count)]
        return sorted(values) if ordered else values

    def curve_set(self, n: int) -> bytes:
        """Alternating para and curv (odd lengths, so padding is needed), each on a 4-byte boundary."""
        made = [para(3, [2.2 + i / 10, 0.95, 0.05, 0.07, 0.04]) if i % 2 else curv(self.u16s(17 + i, True))
                for i in range(n)]  # fmt: skip
        return b"".join(pad4(c) for c in made)

    def clut(self, precision: int) -> bytes:
        """A 3-in, 3-out CLUT; a token fills the unused grid-point bytes."""
        points = bytes([self.grid] * 3) + self.token().ljust(13, b"\0")[:13]
        count = self.grid**3 * 3
        values = bytes(self.rng.randrange(256) for _ in range(count)) if precision == 1 else \
            struct.pack(f">{count}H", *self.u16s(count))  # fmt: skip
        return points + bytes([precision, 0, 0, 0]) + values

    def lut_ab(self, sig: bytes, parts: dict[str, bytes]) -> bytes:
        """Sub-elements laid out B, Matrix, M, CLUT, A (not canonical for mAB), a gap with a token after each."""
        order = ("B", "Matrix", "M", "CLUT", "A")  # also the order of the offsets in the header
        offsets, body = [], b""
        for name in order:
            offsets.append(32 + len(body))
            body += pad4(parts[name]) + pad4(self.token())
        return sig + Z4 + bytes([3, 3, 0, 0]) + struct.pack(">5I", *offsets) + body + self.token()

    def a2b(self) -> bytes:
        parts = {"A": self.curve_set(3), "CLUT": self.clut(2), "M": self.curve_set(3), "Matrix": LUT_MATRIX,
                 "B": self.curve_set(3)}  # fmt: skip
        return self.lut_ab(b"mAB ", parts)

    def b2a(self) -> bytes:
        parts = {"B": self.curve_set(3), "Matrix": LUT_MATRIX, "M": self.curve_set(3), "CLUT": self.clut(1),
                 "A": self.curve_set(3)}  # fmt: skip
        return self.lut_ab(b"mBA ", parts)

    def lut16(self, entries: int) -> bytes:
        flat = self.u16s(entries, True) * 3 + self.u16s(self.grid**3 * 3) + self.u16s(entries, True) * 3
        head = b"mft2" + Z4 + bytes([3, 3, self.grid, 0x5A]) + IDENTITY_3X3 + struct.pack(">HH", entries, entries)
        return head + struct.pack(f">{len(flat)}H", *flat) + self.token()

    def lut8(self) -> bytes:
        ident = bytes(range(256))
        values = bytes(self.rng.randrange(256) for _ in range(self.grid**3 * 3))
        return b"mft1" + Z4 + bytes([3, 3, self.grid, 0]) + IDENTITY_3X3 + ident * 3 + values + ident * 3


def lut_rgb_lab_profile(
    rng: random.Random, tokens: Tokens | None = None, grid: int = 5, only_a2b0: bool = False
) -> bytes:
    """RGB -> Lab printer-style profile: A2B0/B2A0 lutAtoB/lutBtoA, A2B1/B2A1 lut16, A2B2 lut8 (or A2B0 alone).

    With ``tokens``, tokens sit in gaps between sub-elements, in unused CLUT grid bytes, after the last
    sub-element of a tag and in the description.
    """
    parts = LutParts(rng, tokens, grid)
    white = (b"wtpt", xyz(0.9642, 1.0, 0.8249))
    if only_a2b0:
        return icc_profile([white, (b"A2B0", parts.a2b())], device=b"prtr", pcs=b"Lab ")
    tags = [
        (b"desc", mluc([("enUS", "LUT test" + (tokens() if tokens else ""))])),
        white,
        (b"A2B0", parts.a2b()),
        (b"B2A0", parts.b2a()),
        (b"A2B1", parts.lut16(256)),
        (b"B2A1", parts.lut16(128)),
        (b"A2B2", parts.lut8()),
    ]
    return icc_profile(tags, device=b"prtr", pcs=b"Lab ")


def mpet_profile(rng: random.Random, tokens: Tokens | None = None, with_d2b0: bool = True) -> bytes:
    """A matrix-shaper RGB profile plus a D2B0 multiProcessElements tag (cvst, matf, clut, bACS/eACS)."""

    def token() -> bytes:
        return tokens().encode() if tokens else b""

    def f32(values: list[float]) -> bytes:
        return struct.pack(f">{len(values)}f", *values)

    def positioned(head: bytes, items: list[bytes], share_first: bool = False) -> bytes:
        """A position table then the items (a token-carrying gap after each); offsets count from ``head``'s start."""
        pos = len(head) + 8 * len(items)
        table, body = b"", b""
        for i, item in enumerate(items):
            if share_first and i and item == items[0]:
                table += table[:8]
                continue
            table += struct.pack(">II", pos + len(body), len(item))
            body += pad4(item) + pad4(token())
        return head + table + body

    def curf(gamma: float) -> bytes:
        samples = [(i / 16) ** gamma for i in range(1, 17)]
        segments = (
            b"parf" + Z4 + struct.pack(">HH", 0, 0) + f32([1.0, 1.0, 0.0, 0.0])
            + b"samf" + Z4 + struct.pack(">I", len(samples)) + f32(samples)
            + b"parf" + Z4 + struct.pack(">HH", 0, 0) + f32([1.0, 0.0, 1.0, 0.0])
        )  # fmt: skip
        return b"curf" + Z4 + struct.pack(">HH", 3, 0) + f32([0.0, 1.0]) + segments + token()

    same = curf(2.2)
    cvst = positioned(b"cvst" + Z4 + struct.pack(">HH", 3, 3), [same, same, curf(1.8)], share_first=True)
    matf = b"matf" + Z4 + struct.pack(">HH", 3, 3) + f32([0.40, 0.35, 0.18, 0.21, 0.70, 0.07, 0.02, 0.11, 0.70])
    matf += f32([0.01, 0.0, 0.02]) + token()
    grid = 4
    clut = b"clut" + Z4 + struct.pack(">HH", 3, 3) + bytes([grid] * 3) + token().ljust(13, b"\0")[:13]
    clut += f32([rng.uniform(0.0, 0.9) for _ in range(grid**3 * 3)])
    bacs = b"bACS" + Z4 + struct.pack(">HH", 3, 3) + b"abcd" + token()
    eacs = b"eACS" + Z4 + struct.pack(">HH", 3, 3) + b"abcd"
    d2b0 = positioned(b"mpet" + Z4 + struct.pack(">HHI", 3, 3, 5), [bacs, cvst, matf, clut, eacs])
    srgb = tags_of(profile_bytes("sRGB"))
    shaper = (b"desc", b"wtpt", b"chad", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")
    tags = [(sig, srgb[sig]) for sig in shaper]
    if with_d2b0:
        tags.append((b"D2B0", d2b0))
    return icc_profile(tags)


def gray_profile() -> bytes:
    return icc_profile(
        [(b"desc", text_description("gray", "gray", "gray")), (b"cprt", text("none")),
         (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"kTRC", curv([round(1.8 * 256)]))],
        version=b"\x02\x10\0\0", space=b"GRAY",
    )  # fmt: skip


def big_profile() -> bytes:
    """About 1.15 MB: a lutAtoB with a 58^3 16-bit CLUT."""
    profile = lut_rgb_lab_profile(random.Random(7), grid=58, only_a2b0=True)
    assert 1_100_000 < len(profile) < 1_300_000
    return profile


# -- rendering identical -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sRGB", "LAB"])
def test_pillow_profiles_render_identically(name: str) -> None:
    original = profile_bytes(name)
    reduced = reduce_checked(original)
    assert_renders_same(original, reduced)


def test_xyz_profile_is_reduced_canonically() -> None:
    """Pillow has no XYZ image mode, so the XYZ abstract profile cannot be rendered: its lutAtoB is compared."""
    original = profile_bytes("XYZ")
    reduced = reduce_checked(original)
    before, after = tags_of(original), tags_of(reduced)
    assert after[b"A2B0"] == before[b"A2B0"]  # lcms writes it canonically already
    assert after[b"wtpt"] == before[b"wtpt"] and after[b"chad"] == before[b"chad"]


def test_gray_profile_renders_identically() -> None:
    original = gray_profile()
    assert_renders_same(original, reduce_checked(original))


def test_lut_profile_renders_identically_in_both_directions() -> None:
    original = lut_rgb_lab_profile(random.Random(1))
    reduced = reduce_checked(original)
    assert_renders_same(original, reduced, (0, 1, 2))
    for intent in (0, 1):
        assert render_into(reduced, intent) == render_into(original, intent)
    # The LUTs are what renders: each intent uses a different random table.
    assert len({render(reduced, "RGB", intent) for intent in (0, 1, 2)}) == 3
    assert len({render_into(reduced, intent) for intent in (0, 1)}) == 2
    # Sub-elements are rebuilt in processing order: A, CLUT, M, matrix, B (lutAtoB); B, matrix, M, CLUT, A (lutBtoA).
    tags = tags_of(reduced)
    b, matrix, m, clut, a = struct.unpack_from(">5I", tags[b"A2B0"], 12)
    assert 32 == a < clut < m < matrix < b
    b, matrix, m, clut, a = struct.unpack_from(">5I", tags[b"B2A0"], 12)
    assert 32 == b < matrix < m < clut < a


def test_mpet_profile_renders_identically() -> None:
    original = mpet_profile(random.Random(2))
    reduced = reduce_checked(original)
    assert_renders_same(original, reduced, (0,))
    # lcms renders through D2B0 when present: without it the picture differs.
    assert render(mpet_profile(random.Random(2), with_d2b0=False), "RGB") != render(reduced, "RGB")


def corpus_profiles() -> Iterator[tuple[str, bytes]]:
    seen: set[bytes] = set()
    for path in corpus_files():
        try:
            with Image.open(path) as image:
                profile = image.info.get("icc_profile")
        except Exception:  # files Pillow cannot open carry no profile to test
            continue
        if profile and profile not in seen:
            seen.add(profile)
            yield path.name, profile


CORPUS_REFUSED = {"pillow__icc-after-SOF.jpg": "too short to be an ICC profile"}
"""Corpus profiles that are truly broken (a 7-byte fragment)."""


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_SKIP_REASON)
def test_corpus_profiles_render_identically() -> None:
    tested = 0
    luts = 0
    for name, profile in corpus_profiles():
        if name in CORPUS_REFUSED:
            with pytest.raises(IccError, match=CORPUS_REFUSED[name]):
                reduce_icc(profile)
            continue
        reduced = reduce_checked(profile)
        assert_renders_same(profile, reduced)
        tested += 1
        luts += b"A2B0" in tags_of(profile)
    assert tested >= 8 and luts >= 1  # the CMYK lut16/lut8 printer profile of mdx__Multiple_ICC_segments.jpg


# -- nothing else survives ---------------------------------------------------------------------------------------


def planted_v4(tokens: Tokens) -> bytes:
    """sRGB with a token in every place data can hide that a v4 profile offers."""
    base = tags_of(profile_bytes("sRGB"))
    trc = curv([round(65535 * (i / 255) ** 2.2) for i in range(256)]) + tokens().encode()
    meta_name, meta_value = "Owner".encode("utf-16-be"), tokens().encode("utf-16-be")
    records = struct.pack(">IIII", 32, len(meta_name), 32 + len(meta_name), len(meta_value))
    meta = b"dict" + Z4 + struct.pack(">II", 1, 16) + records + meta_name + meta_value
    tags = [
        (b"desc", mluc([("enUS", "sRGB"), ("deDE", tokens())]) + tokens().encode()),
        (b"cprt", mluc([("enUS", tokens())])),
        (b"dmnd", mluc([("enUS", tokens())])),
        (b"dmdd", mluc([("enUS", tokens())])),
        (b"wtpt", base[b"wtpt"] + tokens().encode()),
        (b"chad", base[b"chad"]),
        (b"rXYZ", base[b"rXYZ"]),
        (b"gXYZ", base[b"gXYZ"]),
        (b"bXYZ", base[b"bXYZ"]),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
        (b"chrm", base[b"chrm"]),
        (b"ZZpr", tokens().encode()),
        (b"targ", text(tokens())),
        (b"vued", mluc([("enUS", tokens())])),
        (b"meta", meta),
        (b"MHC2", b"MHC2" + Z4 + tokens().encode()),
    ]
    return icc_profile(tags, gap=tokens().encode(), tail=tokens().encode(), reserved=tokens().encode(),
                       beyond=tokens().encode())  # fmt: skip


def planted_v2(tokens: Tokens) -> bytes:
    """A v2 RGB profile with tokens in every part of its 'desc' and 'text' tags and in dmnd/dmdd/vued."""
    base = tags_of(profile_bytes("sRGB"))
    tags = [
        (b"desc", text_description(tokens(), tokens(), tokens())),
        (b"cprt", text(tokens())),
        (b"dmnd", text_description(tokens(), tokens(), tokens())),
        (b"dmdd", text_description(tokens(), tokens(), tokens())),
        (b"vued", text_description(tokens(), tokens(), tokens())),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        *((sig, base[sig]) for sig in (b"rXYZ", b"gXYZ", b"bXYZ")),
        (b"rTRC", curv([round(2.2 * 256)]) + tokens().encode()),
        (b"gTRC", curv([round(2.2 * 256)])),
        (b"bTRC", curv([round(1.8 * 256)])),
    ]
    return icc_profile(tags, version=b"\x02\x10\0\0", gap=tokens().encode())


@pytest.mark.parametrize("build", [planted_v4, planted_v2, lut_rgb_lab_profile, mpet_profile])
def test_planted_tokens_do_not_survive(build: Callable[..., bytes]) -> None:
    tokens = Tokens()
    original = build(random.Random(3), tokens) if build in (lut_rgb_lab_profile, mpet_profile) else build(tokens)
    assert len(tokens.found_in(original)) == len(tokens.issued) >= 4
    reduced = reduce_checked(original)
    assert tokens.found_in(reduced) == []
    assert_renders_same(original, reduced, (0,))
    assert not is_canonical_icc(original)


def test_text_tags_become_neutral_and_private_tags_go() -> None:
    tokens = Tokens()
    v4 = reduce_checked(planted_v4(tokens))
    assert [sig for sig, _, _ in tag_table(v4)] == [
        b"desc", b"cprt", b"wtpt", b"chad", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC",
    ]  # fmt: skip
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(v4))).strip() == "ICC profile"
    assert tags_of(v4)[b"desc"][:4] == b"mluc"
    offsets = {sig: off for sig, off, _ in tag_table(v4)}
    assert offsets[b"rTRC"] == offsets[b"gTRC"] == offsets[b"bTRC"]  # shared in, shared out
    v2 = reduce_checked(planted_v2(tokens))
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(v2))).strip() == "ICC profile"
    v2_tags = tags_of(v2)
    assert v2_tags[b"desc"][:4] == b"desc" and v2_tags[b"cprt"] == b"text" + Z4 + b"Not stated\0"
    assert b"vued" not in v2_tags
    assert v2_tags[b"rTRC"] == curv([round(2.2 * 256)])  # trailing bytes dropped


def test_tags_at_one_offset_with_different_sizes_share_their_parsed_data() -> None:
    tokens = Tokens()
    trc = curv([0, 30000, 65535])
    planted = trc + tokens().encode()
    profile = bytearray(icc_profile([(b"rTRC", planted), (b"gTRC", planted)]))
    assert tag_table(bytes(profile))[0][1] == tag_table(bytes(profile))[1][1]
    profile[132 + 12 + 8 : 132 + 12 + 12] = struct.pack(">I", len(trc))  # gTRC: the same offset, a shorter size
    out = reduce_checked(bytes(profile))
    (_, r_off, r_size), (_, g_off, g_size) = tag_table(out)
    assert (r_off, r_size) == (g_off, g_size) and tags_of(out)[b"rTRC"] == trc
    assert tokens.found_in(out) == []


def test_kept_simple_tags_keep_their_values_with_reserved_bytes_zeroed() -> None:
    def dirty(data: bytes) -> bytes:
        return data[:4] + b"RSVD" + data[8:]

    simple = {
        b"cicp": b"cicp" + Z4 + bytes([9, 16, 0, 1]),
        b"bkpt": xyz(0.01, 0.01, 0.01),
        b"kTRC": para(0, [2.2]),
    }
    informational = {
        b"chrm": b"chrm" + Z4 + struct.pack(">HH6I", 3, 1, 1, 2, 3, 4, 5, 6),
        b"meas": b"meas" + Z4 + struct.pack(">I3iIII", 1, 0, 0, 0, 2, 0x10000 // 100, 1),
        b"view": b"view" + Z4 + struct.pack(">3i3iI", 1, 2, 3, 4, 5, 6, 1),
        b"tech": b"sig " + Z4 + b"dcam",
        b"ciis": b"sig " + Z4 + b"scoe",
        b"rig0": b"sig " + Z4 + b"prmg",
        b"clro": b"clro" + Z4 + struct.pack(">I", 3) + bytes([2, 0, 1]),
        b"lumi": xyz(80, 80, 80),
        b"dmnd": b"desc" + Z4 + struct.pack(">I", 6) + b"Maker\0" + bytes(78),
        b"gamt": b"mft1" + Z4,
    }
    original = icc_profile([(sig, dirty(data)) for sig, data in {**simple, **informational}.items()])
    assert tags_of(reduce_checked(original)) == simple, "only what decides rendering stays"


def test_dates_are_always_neutral() -> None:
    """The profile's creation date renders nothing and can carry chosen numbers: always 2000-01-01."""
    srgb = tags_of(profile_bytes("sRGB"))
    tags = [(b"wtpt", srgb[b"wtpt"])]
    for bad in [
        (2024, 2, 29, 23, 59, 59),
        (2023, 2, 29, 0, 0, 0),
        (0, 0, 0, 0, 0, 0),
        (2024, 13, 1, 0, 0, 0),
        (2024, 1, 1, 24, 0, 0),
        (2024, 1, 1, 0, 60, 0),
        (2024, 1, 1, 0, 0, 60),
        (0x544F, 0x4B45, 0x4E2D, 0x4943, 0x432D, 0x3031),
    ]:
        out = reduce_checked(icc_profile(tags, date=bad))
        assert struct.unpack_from(">6H", out, 24) == (2000, 1, 1, 0, 0, 0), bad


def test_profile_id_and_header_fields() -> None:
    original = bytearray(profile_bytes("sRGB"))
    original[4:8] = b"lcms"  # preferred CMM
    original[40:44] = b"APPL"  # platform
    original[44:48] = b"\x00\x00\x00\x01"  # flags: embedded
    original[48:56] = b"GOOGPIX8"  # device manufacturer and model
    original[56:64] = b"\x00\x00\x00\x00\x00\x00\x00\x01"  # attributes: transparency
    original[64:68] = b"\x00\x00\x00\x01"  # relative colorimetric
    original[80:84] = b"GOOG"  # creator
    original[84:100] = b"X" * 16  # a wrong ID
    original[10:12] = b"\x12\x34"  # reserved version bytes
    out = reduce_checked(bytes(original))
    assert out[84:100] == expected_id(out) != bytes(16)
    assert out[64:68] == b"\x00\x00\x00\x01", "the rendering intent decides rendering: kept"
    assert out[8:10] == original[8:10] and out[12:24] == original[12:24] and out[36:40] == b"acsp"
    assert out[68:80] == original[68:80], "the PCS illuminant is kept"
    for start, end in ((4, 8), (10, 12), (40, 64), (80, 84), (100, 128)):
        assert out[start:end] == bytes(end - start), (start, end)
    # The ID covers the data: change one tag byte and it changes.
    changed = bytearray(out)
    changed[-5] ^= 1
    assert reduce_icc(bytes(changed))[84:100] != out[84:100]


def test_is_canonical() -> None:
    srgb = profile_bytes("sRGB")
    out = reduce_icc(srgb)
    assert is_canonical_icc(out)
    assert not is_canonical_icc(srgb)  # lcms's own text tags, date and no ID
    assert not is_canonical_icc(out + bytes(4))  # trailing bytes beyond the size field
    assert not is_canonical_icc(b"garbage")
    bumped = bytearray(out)
    bumped[100] = 1
    assert not is_canonical_icc(bytes(bumped))


def test_size_field_smaller_than_data_drops_the_rest() -> None:
    srgb = profile_bytes("sRGB")
    tokens = Tokens()
    out = reduce_checked(srgb + tokens().encode())
    assert tokens.found_in(out) == [] and out == reduce_icc(srgb)


def test_large_profile_reduces_fast_and_renders_identically() -> None:
    profile = big_profile()
    reduce_icc(profile)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        out = reduce_icc(profile)
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.1, f"{min(timings) * 1000:.1f} ms for {len(profile)} bytes"
    assert_canonical_layout(out)
    assert render(out, "RGB") == render(profile, "RGB")


# -- refusals ----------------------------------------------------------------------------------------------------


def patched(profile: bytes, at: int, data: bytes) -> bytes:
    buf = bytearray(profile)
    buf[at : at + len(data)] = data
    return bytes(buf)


def with_tag(sig: bytes, data: bytes) -> bytes:
    return icc_profile([(b"wtpt", xyz(0.9642, 1.0, 0.8249)), (sig, data)])


def refusal_cases() -> Iterator[tuple[str, bytes, str]]:
    srgb = profile_bytes("sRGB")
    table = tag_table(srgb)
    first_off = table[0][1]
    yield "empty", b"", "too short"
    yield "garbage", secrets.token_bytes(300), "acsp"
    yield "header only", srgb[:131], "too short"
    yield "truncated", srgb[:-8], "truncated ICC profile"
    yield "size below header", patched(srgb, 0, struct.pack(">I", 100)), "smaller than a header"
    yield "v5", patched(srgb, 8, b"\x05\x00"), r"ICC v5 \(iccMAX\) profiles are not supported"
    yield "v3", patched(srgb, 8, b"\x03\x00"), "version 3"
    yield "no acsp", patched(srgb, 36, b"acsq"), "acsp"
    yield "huge tag count", patched(srgb, 128, b"\xff\xff\xff\xff"), "tag table runs past"
    yield "tag beyond end", patched(srgb, 136, struct.pack(">I", len(srgb) - 4)), "outside"
    yield "tag size overflows", patched(srgb, 140, b"\xff\xff\xff\xff"), "outside"
    yield "tag inside table", patched(srgb, 136, struct.pack(">I", 140)), "outside"
    yield "overlap", patched(srgb, 136 + 12, struct.pack(">I", first_off + 4)), "overlap"
    yield "unparsed type", with_tag(b"rTRC", b"abcd" + Z4 + bytes(8)), "tag 'rTRC' has type 'abcd'"
    yield "escaped type", with_tag(b"rTRC", b"\x00\x01'\\" + Z4 + bytes(8)), r"type '\\x00\\x01\\x27\\x5c'"
    yield "wrong type for tag", with_tag(b"rXYZ", curv([1, 2])), "tag 'rXYZ' has type 'curv'"
    yield "duplicate", icc_profile([(b"wtpt", xyz(1, 1, 1)), (b"wtpt", xyz(1, 1, 0))]), "more than once"
    yield "short kept tag", with_tag(b"bkpt", b"XYZ "), "truncated"
    yield "curv count", with_tag(b"kTRC", curv([1, 2])[:8] + b"\xff\xff\xff\xff"), "truncated"
    yield "para function", with_tag(b"kTRC", para(9, [1.0])), "unknown parametric"
    lut = tags_of(lut_rgb_lab_profile(random.Random(4)))
    yield "mft2 entries", with_tag(b"A2B1", patched(lut[b"A2B1"], 48, b"\x00\x01")), "table size"
    yield "mft2 channels", with_tag(b"A2B1", patched(lut[b"A2B1"], 8, b"\x00")), "channel count"
    yield "mft2 short", with_tag(b"A2B1", lut[b"A2B1"][:-200]), "truncated"
    yield "mft1 grid 1", with_tag(b"A2B2", patched(lut[b"A2B2"], 10, b"\x01")), "single grid point"
    yield "mAB offset out", with_tag(b"A2B0", patched(lut[b"A2B0"], 12, b"\x7f\xff\xff\xf0")), "truncated"
    yield "mAB misaligned", with_tag(b"A2B0", patched(lut[b"A2B0"], 12, struct.pack(">I", 34))), "misplaced"
    b_offset = struct.unpack_from(">I", lut[b"A2B0"], 12)[0]
    yield "mAB overlap", with_tag(b"A2B0", patched(lut[b"A2B0"], 16, struct.pack(">I", b_offset + 4))), "overlap"
    clut_offset = struct.unpack_from(">I", lut[b"A2B0"], 24)[0]
    yield "mAB precision", with_tag(b"A2B0", patched(lut[b"A2B0"], clut_offset + 16, b"\x03")), "precision"
    yield "mAB curve type", with_tag(b"A2B0", patched(lut[b"A2B0"], b_offset, b"XYZ ")), "curve of type 'XYZ '"
    d2b0 = tags_of(mpet_profile(random.Random(5)))[b"D2B0"]
    yield "mpet count", with_tag(b"D2B0", patched(d2b0, 12, b"\x10\x00\x00\x00")), "truncated"
    yield "mpet channels", with_tag(b"D2B0", patched(d2b0, 8, b"\x00\x00")), "channel count"
    first_element = struct.unpack_from(">I", d2b0, 16)[0]
    yield "mpet element", with_tag(b"D2B0", patched(d2b0, first_element, b"zzzz")), "processing element of type"
    yield "mpet overlap", with_tag(b"D2B0", patched(d2b0, 24, struct.pack(">I", first_element + 4))), "overlap"
    nan_at = d2b0.index(b"matf") + 12
    yield "mpet NaN", with_tag(b"D2B0", patched(d2b0, nan_at, b"\x7f\xc0\x12\x34")), "NaN"


REFUSALS = list(refusal_cases())


@pytest.mark.parametrize(("profile", "message"), [case[1:] for case in REFUSALS], ids=[case[0] for case in REFUSALS])
def test_refusals(profile: bytes, message: str) -> None:
    with pytest.raises(IccError, match=message) as raised:
        reduce_icc(profile)
    assert "\n" not in str(raised.value)
    assert not is_canonical_icc(profile)


def test_refusal_messages_do_not_echo_profile_text() -> None:
    tokens = Tokens()
    token = tokens()
    profile = with_tag(b"rTRC", b"TOKE" + Z4 + token.encode())
    with pytest.raises(IccError) as raised:
        reduce_icc(profile)
    assert token not in str(raised.value) and "'TOKE'" in str(raised.value)


# -- fuzzing -------------------------------------------------------------------------------------------------------

FUZZ_SEEDS = [
    profile_bytes("sRGB"),
    profile_bytes("LAB"),
    gray_profile(),
    lut_rgb_lab_profile(random.Random(6), grid=3),
    mpet_profile(random.Random(6)),
    planted_v4(Tokens()),
]


EXTREMES = (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xf0", b"\x00\x00\x01\x00")


def mutate(seed: bytes, edits: list[tuple[int, int, int]], cut: int | None) -> bytes:
    buf = bytearray(seed)
    for kind, where, value in edits:
        at = where % max(len(buf), 1)
        if kind == 0:
            buf[at : at + 1] = bytes([value])
        elif kind == 1:
            buf[at:at] = bytes([value]) * (value % 9)
        elif kind == 2:
            del buf[at : at + value % 9]
        else:  # a 32-bit field set to an extreme value
            buf[at : at + 4] = EXTREMES[value % 4]
    return bytes(buf[:cut] if cut is not None else buf)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(FUZZ_SEEDS))),
    edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6),
    cut=st.none() | st.integers(0, 4000),
)
def test_mutated_profiles_reduce_canonically_or_raise_icc_error(
    seed: int, edits: list[tuple[int, int, int]], cut: int | None
) -> None:
    data = mutate(FUZZ_SEEDS[seed], edits, cut)
    try:
        out = reduce_icc(data)
    except IccError as error:
        assert "\n" not in str(error)
        return
    assert reduce_icc(out) == out
    assert len(out) <= 2 * len(data) + 1024
    assert_canonical_layout(out)


def test_every_header_and_table_byte_flip_reduces_canonically_or_raises() -> None:
    """Exhaustive over the header and tag table of the sRGB profile: every byte set to 0x00 and 0xff."""
    srgb = profile_bytes("sRGB")
    end = 132 + 12 * len(tag_table(srgb))
    for at in range(end):
        for value in (0x00, 0xFF):
            data = patched(srgb, at, bytes([value]))
            try:
                out = reduce_icc(data)
            except IccError:
                continue
            assert reduce_icc(out) == out
