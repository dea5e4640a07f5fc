"""Copy botocore service models out of a botocore wheel: ``python3 extract_models.py WHEEL_DIR OUT SERVICE...``.

The C2PA layer carries the models of the services only ``PROVENANCE=resign`` calls (KMS, SSM): botocore reads
them from ``AWS_DATA_PATH`` (``OUT``), so the shared dependency layer may leave them out. Standard library only.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path


def main(wheels: Path, out: Path, services: list[str]) -> None:
    [wheel] = sorted(wheels.glob("botocore-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) > 3 and parts[:2] == ["botocore", "data"] and parts[2] in services and not name.endswith("/"):
                target = out.joinpath(*parts[2:])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    missing = [service for service in services if not (out / service).is_dir()]
    if missing:
        sys.exit(f"no model for {', '.join(missing)} in {wheel.name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
