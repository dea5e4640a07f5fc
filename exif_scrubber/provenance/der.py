"""Just enough DER to read what provenance needs: an ECDSA signature's two integers (AWS KMS and most signers
return DER; COSE wants them side by side) and the names in an X.509 certificate's subject and issuer.

Bounded by construction: every read checks its length against what remains, nesting is a fixed path through the
certificate (never recursion on input), and a malformed encoding raises :class:`DerError`.
"""

from __future__ import annotations

from dataclasses import dataclass

_SEQUENCE, _SET, _INTEGER, _OID = 0x30, 0x31, 0x02, 0x06
_CONTEXT_0 = 0xA0


class DerError(ValueError):
    """The bytes are not the DER structure expected."""


@dataclass(frozen=True, slots=True)
class Tlv:
    """One DER element: its tag, and where its value lies in the buffer."""

    tag: int
    start: int
    end: int


def read_tlv(data: bytes, pos: int, limit: int | None = None) -> Tlv:
    """The element that starts at ``pos`` (single-byte tags only, definite lengths only)."""
    stop = len(data) if limit is None else limit
    if pos + 2 > stop:
        raise DerError("truncated element")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > stop:
            raise DerError("unsupported length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > stop:
        raise DerError("element runs past its container")
    return Tlv(tag, pos, pos + length)


def children(data: bytes, parent: Tlv) -> list[Tlv]:
    """The elements inside a constructed element, in order (at most 4096)."""
    found, pos = [], parent.start
    while pos < parent.end:
        child = read_tlv(data, pos, parent.end)
        found.append(child)
        pos = child.end
        if len(found) > 4096:
            raise DerError("too many elements")
    return found


def ecdsa_raw(signature: bytes, size: int = 32) -> bytes:
    """``r || s`` of a DER ``ECDSA-Sig-Value`` (what COSE ES256 carries), each ``size`` bytes big-endian."""
    outer = read_tlv(signature, 0)
    if outer.tag != _SEQUENCE or outer.end != len(signature):
        raise DerError("not an ECDSA signature")
    parts = children(signature, outer)
    if len(parts) != 2 or any(p.tag != _INTEGER for p in parts):
        raise DerError("not an ECDSA signature")
    out = b""
    for part in parts:
        value = signature[part.start : part.end].lstrip(b"\0")
        if not value or len(value) > size:
            raise DerError("ECDSA integer out of range")
        out += value.rjust(size, b"\0")
    return out


_ATTRIBUTE_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.4": "SN",
    "2.5.4.42": "GN",
    "2.5.4.17": "postalCode",
    "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.1": "UID",
}


def _oid(raw: bytes) -> str:
    if not raw:
        raise DerError("empty object identifier")
    parts = [raw[0] // 40, raw[0] % 40] if raw[0] < 80 else [2, raw[0] - 80]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _name(data: bytes, name: Tlv) -> list[tuple[str, str]]:
    """(attribute, value) pairs of an X.509 ``Name``; unknown attributes by their dotted OID."""
    pairs = []
    for rdn in children(data, name):
        if rdn.tag != _SET:
            raise DerError("malformed name")
        for attribute in children(data, rdn):
            oid, value = children(data, attribute)[:2]
            if oid.tag != _OID:
                raise DerError("malformed name attribute")
            key = _oid(data[oid.start : oid.end])
            text = data[value.start : value.end].decode("utf-8", errors="replace")
            pairs.append((_ATTRIBUTE_NAMES.get(key, key), text))
    return pairs


@dataclass(frozen=True)
class CertificateNames:
    """The subject and issuer of a certificate, as (attribute, value) pairs."""

    subject: tuple[tuple[str, str], ...]
    issuer: tuple[tuple[str, str], ...]

    def common_name(self) -> str | None:
        return next((value for key, value in self.subject if key == "CN"), None)


def certificate_names(certificate: bytes) -> CertificateNames:
    """The subject and issuer names of a DER certificate."""
    outer = read_tlv(certificate, 0)
    if outer.tag != _SEQUENCE or outer.end != len(certificate):
        raise DerError("not a certificate")
    tbs = children(certificate, outer)[0]
    fields = children(certificate, tbs)
    if fields and fields[0].tag == _CONTEXT_0:
        fields = fields[1:]  # the version
    if len(fields) < 5:
        raise DerError("truncated certificate")
    issuer, subject = fields[2], fields[4]
    return CertificateNames(tuple(_name(certificate, subject)), tuple(_name(certificate, issuer)))
