"""The ARC runner image (`deploy/arc/runner.Dockerfile`) and the scale set values that run it.

The stock actions-runner image lacks make and Python, which the reusable workflows'
setup-project action runs on the runner; its user is the name `runner` (uid 1001), and
kubelet refuses `runAsNonRoot` on a non-numeric user. The image is built for real with buildah
on the suite's locally made Debian base standing in for the stock image (build arg
RUNNER_IMAGE) and its tools are run inside; the static checks are fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.commands import BIN_DIR, run
from support.images import buildah, pip_trust_flags, python_base_image, require_buildah
from support.template import TEMPLATE_DIR

ARC = Path("deploy/arc")
DOCKERFILE = ARC / "runner.Dockerfile"
VALUES = ARC / "gpu-runner-scale-set.values.yaml"
ACTION_UV = TEMPLATE_DIR / ".github/actions/setup-project/uv-requirements.txt"
IMAGE = "localhost/ml-cicd-template/actions-runner-ml:test"


def _uv_version() -> str:
    return re.search(r"^uv==([0-9.]+)", ACTION_UV.read_text(), re.MULTILINE)[1]


def _user(project: Path) -> tuple[int, int]:
    """The Dockerfile's final USER as (uid, gid); both must be numbers."""
    users = re.findall(r"^USER\s+(\S+)\s*$", (project / DOCKERFILE).read_text(), re.MULTILINE)
    match = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert match, f"the final USER {users[-1]!r} is not numeric uid:gid"
    return int(match[1]), int(match[2])


def test_runner_dockerfile_passes_hadolint(default_project: Path):
    result = run([str(BIN_DIR / "hadolint"), str(DOCKERFILE)], cwd=default_project)
    assert result.stdout == ""


def test_arc_values_run_the_images_user_by_number(default_project: Path):
    values = yaml.safe_load((default_project / VALUES).read_text())
    pod = values["template"]["spec"]
    (runner,) = [container for container in pod["containers"] if container["name"] == "runner"]
    context = runner["securityContext"]
    uid, gid = _user(default_project)
    assert (uid, gid) == (1001, 123)  # the stock image's `runner` and its `docker` group
    assert context["runAsNonRoot"] is True
    assert type(context["runAsUser"]) is int and context["runAsUser"] == uid
    assert context["runAsGroup"] == gid
    assert pod["securityContext"]["fsGroup"] == gid
    assert context["allowPrivilegeEscalation"] is False


def test_runner_image_installs_the_uv_setup_project_pins(default_project: Path):
    """The image's uv list is the action's own: same version, same wheel hashes."""
    assert (default_project / ARC / "uv-requirements.txt").read_text() == ACTION_UV.read_text()


@pytest.fixture(scope="module")
def runner_image(tmp_path_factory: pytest.TempPathFactory, default_project: Path) -> Iterator[str]:
    """runner.Dockerfile built on the stand-in base; removed afterwards (the base stays)."""
    require_buildah()
    base = python_base_image()
    flags = pip_trust_flags(tmp_path_factory.mktemp("pip"))
    buildah(
        "bud", "--quiet", "--format", "docker", "--build-arg", f"RUNNER_IMAGE={base}", *flags,
        "--file", str(default_project / DOCKERFILE), "--tag", IMAGE, str(default_project / ARC),
    )  # fmt: skip
    yield IMAGE
    buildah("rmi", IMAGE)


@pytest.mark.slow
def test_runner_image_has_make_python_and_the_pinned_uv(runner_image: str, default_project: Path):
    config = json.loads(buildah("inspect", "--type", "image", runner_image))["Docker"]["config"]
    uid, gid = _user(default_project)
    assert config["User"] == f"{uid}:{gid}"
    container = buildah("from", "--quiet", runner_image).strip()
    try:
        whoami = buildah("run", container, "--", "id", "-u")
        outputs = {tool: buildah("run", container, "--", tool, "--version") for tool in ("make", "python3", "uv")}
    finally:
        buildah("rm", container)
    assert whoami.strip() == str(uid)  # the tools run as the runner's user
    assert outputs["make"].startswith("GNU Make ")
    assert re.match(r"Python 3\.\d+", outputs["python3"])
    assert outputs["uv"].split()[:2] == ["uv", _uv_version()]
