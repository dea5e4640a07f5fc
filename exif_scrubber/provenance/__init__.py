"""C2PA provenance: the manifest stores a file carries, and the ``resign`` policy that keeps them honest.

Nothing here imports the C2PA library (c2pa-python) at module import: :mod:`.c2pa_lib` loads it only when a
:class:`Provenance` re-signs or checks a manifest, so the default ``strip`` path runs without it.
"""

from .carriers import KEPT_LABEL
from .resign import ManifestCheck, Provenance, ProvenanceResult

__all__ = ["KEPT_LABEL", "ManifestCheck", "Provenance", "ProvenanceResult"]
