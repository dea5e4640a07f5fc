"""The C2PA library (c2pa-python, MIT OR Apache-2.0), imported only when provenance is re-signed or audited.

The default path (``PROVENANCE=strip``) never imports it, so the engine, the CLI and a Lambda without the C2PA
layer work without it. Its contexts never reach the network: remote manifests and OCSP are not fetched and no
host is allowed (a manifest could otherwise make the function call a URL of the uploader's choice).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

INSTALL_HINT = "install the C2PA extra (pip install 's3-exif-scrubber[c2pa]'; in Lambda: the C2PA layer)"
_LIBRARY = "libc2pa_c.so"


class ProvenanceUnavailable(RuntimeError):
    """The C2PA library cannot be used here (not installed, or refused); the message says what to do."""


def claim_generator() -> dict[str, str]:
    """How the engine names itself in the manifests it signs."""
    from .. import __version__

    return {"name": "s3-exif-scrubber", "version": __version__}


def load() -> ModuleType:
    """The ``c2pa`` module, or :class:`ProvenanceUnavailable`.

    c2pa-python looks for its native library in the working directory before its own folder: a
    ``libc2pa_c.so`` planted there would be loaded instead, so its presence is refused.
    """
    cwd = Path.cwd()
    for folder in (cwd, cwd / "artifacts", cwd / "libs"):
        if (folder / _LIBRARY).exists():
            raise ProvenanceUnavailable(f"refusing to load the C2PA library: {folder / _LIBRARY} would be loaded")
    try:
        import c2pa  # type: ignore[import-untyped,unused-ignore]
    except (ImportError, OSError, RuntimeError) as exc:
        raise ProvenanceUnavailable(
            f"the C2PA library is not available ({type(exc).__name__}): {INSTALL_HINT}"
        ) from None
    module: ModuleType = c2pa
    return module


def settings(*, trust_anchors: str | None = None, builder: bool = False) -> dict[str, Any]:
    """Settings of a C2PA context: offline; trust checked only against ``trust_anchors`` when given (they replace
    the library's defaults); a builder makes no thumbnail and adds no ``created`` or ``placed`` action."""
    config: dict[str, Any] = {
        "version": 1,
        "core": {"allowed_network_hosts": []},
        "verify": {
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
            "verify_trust": trust_anchors is not None,
            "verify_timestamp_trust": False,
        },
    }
    if trust_anchors is not None:
        config["trust"] = {"trust_anchors": trust_anchors}
    if builder:
        config["builder"] = {
            "claim_generator_info": claim_generator(),
            "thumbnail": {"enabled": False},
            "actions": {
                "auto_created_action": {"enabled": False},
                "auto_placed_action": {"enabled": False},
            },
        }
    return config


def context(c2pa: ModuleType, *, trust_anchors: str | None = None, builder: bool = False) -> Any:
    """A ``c2pa.Context`` with :func:`settings`."""
    return c2pa.Context.from_json(json.dumps(settings(trust_anchors=trust_anchors, builder=builder)))


def one_line(exc: BaseException, limit: int = 200) -> str:
    """A library error as one short line."""
    text = " ".join(str(exc).split())
    return (text[: limit - 3] + "...") if len(text) > limit else text or type(exc).__name__
