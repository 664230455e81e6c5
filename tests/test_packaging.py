"""The Docker image's lock file agrees with pyproject.toml (scripts/lock.sh regenerates it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _locked() -> dict[str, tuple[str, int]]:
    """Package name -> (pinned version, number of hashes) from requirements.lock."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pins: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^\s\\]+)", block)
        if m:
            pins[canonicalize_name(m.group(1))] = (m.group(2), block.count("--hash=sha256:"))
    return pins


def test_every_runtime_dependency_is_pinned_with_hashes_in_the_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = _locked()
    assert pins, "requirements.lock holds no pins"
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run scripts/lock.sh"
        version, hashes = pins[name]
        assert req.specifier.contains(version), f"{req.name}=={version} does not satisfy {spec}"
        assert hashes > 0, f"{req.name} has no hash in requirements.lock"
    for pinned, (version, hashes) in pins.items():
        assert hashes > 0, f"{pinned}=={version} has no hash"


def test_dockerfile_installs_from_the_lock_on_a_pinned_base_without_pip_at_run_time() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", dockerfile)
    assert base is not None
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))
    assert "--require-hashes" in dockerfile
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert "pip uninstall" in runtime
    assert "pip install" not in runtime
