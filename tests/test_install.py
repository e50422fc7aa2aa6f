"""`make install` on a machine as it comes: without uv, and without (or with) an NVIDIA GPU.

With no uv on PATH, install puts the pinned uv into the project's .tools/ and says so; the
pin has one home in the project (scripts/uv-requirements.txt), the same as the CI action's.
The torch build follows TORCH_BUILD (auto: cpu unless `nvidia-smi -L` lists a GPU), and install
prints which one it chose and why, before it runs a command (so `make -n install` shows the
choice without the multi-GB CUDA download).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from support.commands import BIN_DIR, run, tool_env, torch_swap
from support.template import TEMPLATE_DIR, render

PROJECT_PIN = "scripts/uv-requirements.txt"
ACTION_PIN = TEMPLATE_DIR / ".github" / "actions" / "setup-project" / "uv-requirements.txt"
_UV = re.compile(r"^uv==([0-9.]+)", re.MULTILINE)


def _requirement(text: str) -> list[str]:
    """The requirement lines of a hashed requirements file (comments left out)."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _pin(text: str) -> str:
    match = _UV.search(text)
    assert match, "no uv==VERSION line"
    return match[1]


def _path_without(*programs: str) -> str:
    """This PATH less every directory that holds one of `programs` (the test venv's uv included)."""
    entries = os.environ["PATH"].split(os.pathsep)
    path = os.pathsep.join(e for e in entries if e and not any((Path(e) / name).exists() for name in programs))
    assert not any(shutil.which(name, path=path) for name in programs)
    return path


NO_GPU_PATH = _path_without("nvidia-smi")


def _nvidia_smi(directory: Path, output: str, status: int = 0) -> str:
    """A PATH whose `nvidia-smi` prints `output` and exits `status`; each call is recorded in CALLS."""
    directory.mkdir()
    script = directory / "nvidia-smi"
    script.write_text(f'#!/bin/sh\necho "$@" >> {directory / "CALLS"}\necho "{output}"\nexit {status}\n')
    script.chmod(0o755)
    return f"{directory}{os.pathsep}{NO_GPU_PATH}"


GPU_LINE = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0000)"


def test_the_uv_pin_has_one_version_everywhere(default_project):
    """The project's pin (what `make install` bootstraps) is the CI action's, wheel hashes included,
    and the template's own environment uses the same uv."""
    project_pin = (default_project / PROJECT_PIN).read_text()
    assert _requirement(project_pin) == _requirement(ACTION_PIN.read_text())
    assert _pin(project_pin) == _pin((TEMPLATE_DIR / "requirements-dev.txt").read_text())
    assert "--hash=sha256:" in project_pin


@pytest.mark.slow
def test_install_without_uv_installs_the_pinned_uv_into_tools_and_the_cpu_torch(tmp_path: Path):
    """No uv on PATH and no GPU: install brings the pinned uv into .tools/, leaves the system alone,
    and installs the CPU wheel of the locked torch (from the local wheel folder where one is set up)."""
    project = render(tmp_path)
    pin = _pin((project / PROJECT_PIN).read_text())
    env = tool_env(PATH=_path_without("uv", "nvidia-smi"), UV_PYTHON_DOWNLOADS="never")
    swap = [f"{name}={value}" for name, value in torch_swap().items()]
    install = run(["make", "--no-print-directory", "install", "EXTRAS=train", *swap], cwd=project, env=env)

    assert f"uv not found: installed uv {pin} into .tools/uv-{pin}/" in install.stdout
    uv = project / ".tools" / f"uv-{pin}" / "bin" / "uv"
    assert run([str(uv), "--version"], cwd=project).stdout.split()[1] == pin
    assert re.search(
        r"^torch: cpu build \(TORCH_BUILD=auto: TORCH_(FIND_LINKS|INDEX_URL) is set\)", install.stdout, re.M
    )
    assert f"{uv.relative_to(project)} sync --frozen" in install.stdout  # the installed uv did the work
    version = run([str(project / ".venv/bin/python"), "-c", "import torch; print(torch.__version__)"], cwd=project)
    assert version.stdout.strip().endswith("+cpu")
    assert ".tools/" in (project / ".gitignore").read_text().splitlines()

    # A second install reuses it and installs nothing else into .tools/.
    again = run(["make", "--no-print-directory", "install", "EXTRAS=train", *swap], cwd=project, env=env)
    assert "uv not found" not in again.stdout
    assert sorted(path.name for path in (project / ".tools").iterdir()) == [f"uv-{pin}"]


def _dry_install(project: Path, path: str, *variables: str):
    """`make -n install`: the choice is printed and the commands shown, nothing runs."""
    return run(
        ["make", "--no-print-directory", "-n", "install", f"UV={BIN_DIR / 'uv'}", *variables],
        cwd=project,
        env=tool_env(PATH=path),
    )


def _commands(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if not line.startswith("torch: "))


def test_no_gpu_visible_selects_the_cpu_build(default_project):
    result = _dry_install(default_project, NO_GPU_PATH)
    assert "torch: cpu build (TORCH_BUILD=auto: no GPU visible, no working nvidia-smi -L)" in result.stdout
    commands = _commands(result.stdout)
    assert "--no-install-package torch" in commands and "--no-install-package triton" in commands
    assert "--index-url https://download.pytorch.org/whl/cpu torch==" in commands


def test_a_failing_nvidia_smi_is_no_gpu(default_project, tmp_path):
    """An nvidia-smi that cannot reach a driver (exit 9, its message on stdout) lists no GPU."""
    failing = _nvidia_smi(tmp_path / "bin", "NVIDIA-SMI has failed because it couldn't communicate with the driver", 9)
    result = _dry_install(default_project, failing)
    assert "torch: cpu build (TORCH_BUILD=auto: no GPU visible" in result.stdout
    assert (tmp_path / "bin" / "CALLS").read_text() == "-L\n"  # asked once, with -L


def test_a_visible_gpu_selects_the_cuda_build_of_the_lock(default_project, tmp_path):
    gpu_path = _nvidia_smi(tmp_path / "bin", GPU_LINE)
    result = _dry_install(default_project, gpu_path)
    assert f"torch: cuda build (TORCH_BUILD=auto: nvidia-smi -L lists {GPU_LINE})" in result.stdout
    commands = _commands(result.stdout)
    assert "sync --frozen" in commands
    assert "--no-install-package" not in commands and "pip install" not in commands  # exactly the lock

    # TORCH_BUILD overrides what is seen, either way; a CPU wheel source means cpu under auto.
    forced = _dry_install(default_project, gpu_path, "TORCH_BUILD=cpu")
    assert "torch: cpu build (TORCH_BUILD=cpu)" in forced.stdout
    sourced = _dry_install(default_project, gpu_path, "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu")
    assert "torch: cpu build (TORCH_BUILD=auto: TORCH_INDEX_URL is set)" in sourced.stdout
    no_gpu = _dry_install(default_project, NO_GPU_PATH, "TORCH_BUILD=cuda")
    assert "torch: cuda build (TORCH_BUILD=cuda)" in no_gpu.stdout
    assert "--no-install-package" not in _commands(no_gpu.stdout)


def test_cuda_with_a_cpu_wheel_source_is_refused(default_project):
    result = run(
        ["make", "--no-print-directory", "-n", "install", "TORCH_BUILD=cuda", "TORCH_FIND_LINKS=/wheels"],
        cwd=default_project,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert "TORCH_BUILD=cuda installs uv.lock's torch" in result.stderr


def test_without_the_train_extra_no_torch_is_chosen_and_no_gpu_is_probed(default_project, tmp_path):
    result = _dry_install(default_project, _nvidia_smi(tmp_path / "bin", GPU_LINE), "EXTRAS=dev")
    assert "torch:" not in result.stdout
    assert "--no-install-package" not in result.stdout
    assert not (tmp_path / "bin" / "CALLS").exists()
