"""The C2PA layer (Provenance=resign only), built by deploy/Makefile as ``sam build`` does: trimmed to what is
loaded, the right architecture, small enough for the package budget, and loadable by CPython 3.12 with nothing but
the layer on its path (x86_64 here). Needs PyPI (pip downloads the pinned wheels); skips, saying so, without it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ELF_MACHINE = {"X86": 62, "Arm64": 183}
LAYER_BUDGET = 30 * 1000**2
"""Unzipped. With the deployed function and its other layers (115.6 MB x86_64, 124.1 MB arm64 as deploy/trim_layer.py
leaves them) the function with this layer stays within the project's 150 MB budget."""
LOAD = """
import json, sys, botocore.session
import c2pa, cbor2
loader = botocore.session.get_session().get_component("data_loader")  # what boto3.client("kms") reads
models = [loader.load_service_model(name, "service-2")["metadata"]["serviceId"] for name in ("kms", "ssm")]
print(json.dumps({"sdk": c2pa.sdk_version(), "cbor2": cbor2.__file__, "c2pa": c2pa.__file__, "models": models,
                  "search": loader.search_paths[0]}))
"""


def _build(target: str, out: Path) -> subprocess.CompletedProcess[str]:
    pip = f"{sys.executable} -m pip"
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "deploy" / "Makefile"), target, f"ARTIFACTS_DIR={out}",
         f"PIP={pip}"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["X86", "Arm64"])
def layer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    arch = request.param
    out = tmp_path_factory.mktemp(f"c2pa-{arch}")
    result = _build(f"build-C2paLayer{arch}", out)
    if result.returncode != 0 and ("Could not find" in result.stderr or "network" in result.stderr.lower()):
        pytest.skip(f"the C2PA layer's wheels could not be downloaded: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return arch, out


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_the_layer_holds_what_is_loaded_and_nothing_else(layer: tuple[str, Path]) -> None:
    arch, out = layer
    site = out / "python"
    library = site / "c2pa" / "libs" / "libc2pa_c.so"
    assert library.read_bytes()[:4] == b"\x7fELF"
    assert int.from_bytes(library.read_bytes()[18:20], "little") == ELF_MACHINE[arch]
    assert sorted(p.name for p in (site / "c2pa" / "libs").iterdir()) == ["libc2pa_c.so"]  # no 31 MB .rlib
    assert not (site / "c2pa" / "build.py").exists() and not (site / "bin").exists()
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info")) == ["c2pa", "cbor2"]
    assert sorted(p.name for p in (out / "botocore-models").iterdir()) == ["kms", "ssm"]
    assert _tree_bytes(out) <= LAYER_BUDGET, f"{arch}: {_tree_bytes(out)} bytes"


def _python312() -> str | None:
    found = shutil.which("python3.12")
    if found:
        return found
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(root.glob("3.12.*/bin/python3.12"))
    return str(candidates[-1]) if candidates else None


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the x86_64 layer runs natively only on x86_64")
def test_the_x86_layer_loads_on_python312_alone(layer: tuple[str, Path], tmp_path: Path) -> None:
    """Only the layer and botocore (the dependency layer's) on the path: c2pa finds its library, botocore the KMS
    and SSM models through AWS_DATA_PATH, as the template sets it."""
    arch, out = layer
    if arch != "X86":
        pytest.skip("the arm64 layer is checked for its contents only")
    python = _python312()
    if python is None:
        pytest.skip("no CPython 3.12 here (pyenv install 3.12)")
    botocore = Path(__import__("botocore").__file__).parent.parent
    shadow = tmp_path / "site"
    shadow.mkdir()
    for name in ("botocore", "dateutil", "jmespath", "urllib3", "six.py"):
        source = botocore / name
        target = shadow / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, target)
    shutil.rmtree(shadow / "botocore" / "data" / "kms", ignore_errors=True)  # as a trimmed dependency layer may
    shutil.rmtree(shadow / "botocore" / "data" / "ssm", ignore_errors=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": f"{out / 'python'}:{shadow}",
           "AWS_DATA_PATH": str(out / "botocore-models"), "PYENV_VERSION": "3.12"}  # fmt: skip
    result = subprocess.run(
        [python, "-c", LOAD], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    loaded = json.loads(result.stdout)
    assert loaded["sdk"].startswith("0.") and loaded["c2pa"].startswith(str(out))
    assert loaded["models"] == ["KMS", "SSM"] and loaded["search"] == str(out / "botocore-models")
