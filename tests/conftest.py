"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis on a busy machine: no per-example deadline and no "too slow" health check (both are
# wall-clock thresholds that a loaded machine trips: a flaky test is a bug), and no example database
# written into the checkout (the README's command runs with -p no:cacheprovider for the same reason).
# A test's own @settings still narrows max_examples; a failure prints the blob that reproduces it.
settings.register_profile(
    "auditplan",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("auditplan")

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the repo into another folder with a copy of shared/ beside it; developers have
# /work/shared beside /work/main. Both are "../shared" from the repo root.
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()
REFERENCE_DIR = SHARED_DIR / "reference"
EVTX_DEV_DIR = REFERENCE_DIR / "evtx-dev"
DATA_DIR = REPO_ROOT / "tests" / "data"


# Tests must not depend on the runner's CA-bundle variables: pywinrm clients built with its
# defaults fall back to them (and warn), while the product always names its trust.
RUNNER_TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="session", autouse=True)
def _no_runner_ca_bundle() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in RUNNER_TRUST_VARIABLES:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip("../shared/reference is absent: it holds the GPL-3.0 and reference material read in place")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def evtx_dev_dir() -> Path:
    if not EVTX_DEV_DIR.is_dir():
        pytest.skip("../shared/reference/evtx-dev is absent: its GPL-3.0 EVTX files are read in place, not copied")
    return EVTX_DEV_DIR
