"""What a built distribution holds: typing markers, the license, one version, honest classifiers.

The wheel and sdist are built from a copy of the source (offline: the installed setuptools, no
build isolation), so the check sees exactly what ``pip install .`` would ship.
"""

from __future__ import annotations

import ast
import email
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import vlmgym

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    code = "from setuptools import build_meta as b; b.build_wheel('dist'); b.build_sdist('dist')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return src / "dist"


def _wheel(dist: Path) -> zipfile.ZipFile:
    (path,) = dist.glob("*.whl")
    return zipfile.ZipFile(path)


def _metadata(dist: Path) -> email.message.Message:
    wheel = _wheel(dist)
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(wheel.read(name))


def test_wheel_and_sdist_ship_py_typed_and_the_license(dist):
    names = _wheel(dist).namelist()
    assert "vlmgym/py.typed" in names and "vlmgym_rl/py.typed" in names
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    text = _wheel(dist).read(license_file).decode()
    assert text == (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX" in text  # the full text
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {"LICENSE", "src/vlmgym/py.typed", "src/vlmgym_rl/py.typed"} <= members


def test_metadata_license_expression_and_one_version(dist):
    meta = _metadata(dist)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert "License ::" not in " ".join(meta.get_all("Classifier"))  # PEP 639: the expression only
    import vlmgym_rl

    assert meta["Version"] == vlmgym.__version__ == vlmgym_rl.__version__
    # written once: pyproject reads it from src/vlmgym/version.py, nothing else spells it
    project = (ROOT / "pyproject.toml").read_text().split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^dynamic = \["version"\]', project, re.M)
    assert not re.search(r"^version\s*=", project, re.M)
    spelled = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")
               if f'"{vlmgym.__version__}"' in p.read_text()]
    assert spelled == ["src/vlmgym/version.py"], spelled


def _nox_pythons() -> list[str]:
    """``PYTHONS`` in noxfile.py: the interpreters the core suite runs on."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PYTHONS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("noxfile.py defines no PYTHONS")


def test_python_classifiers_and_requires_python_match_the_tested_versions(dist):
    meta = _metadata(dist)
    tested = _nox_pythons()
    claimed = [c.rsplit(" :: ", 1)[1] for c in meta.get_all("Classifier")
               if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert claimed == tested
    assert meta["Requires-Python"] == f">={tested[0]}"
    assert "Typing :: Typed" in meta.get_all("Classifier")
