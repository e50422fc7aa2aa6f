"""Which package each pre-commit hook runs, and the exact versions a project pins.

The hooks of the template and of the generated project are all `repo: local`: each runs a
command that a package of the dev environment installs. These helpers connect a hook to that
package (through the files the installed distributions record) and read the `==` pins a
project declares, so a test can check that every tool pre-commit runs has one pinned version.
The pins come from PEP 508 lines (the generated pyproject.toml's dev extra, the template's
requirements-dev.txt); a lock file, once there is one, is one more source of the same mapping.
"""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib.metadata import distributions
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def hook_commands(config: Path) -> dict[str, str]:
    """{hook id: the command its entry runs} of a pre-commit config; ValueError for a hook
    repository that pre-commit would clone."""
    commands = {}
    for repo in yaml.safe_load(config.read_text())["repos"]:
        if repo["repo"] != "local":
            raise ValueError(f"{config}: {repo['repo']} is cloned at run time")
        for hook in repo["hooks"]:
            commands[hook["id"]] = shlex.split(hook["entry"])[0]
    return commands


@cache
def _command_owners() -> dict[str, str]:
    """{command: canonical distribution name} for the commands this environment's packages install."""
    owners = {}
    for distribution in distributions():
        for file in distribution.files or ():
            if file.parent.name == "bin":
                owners.setdefault(file.name, canonicalize_name(distribution.metadata["Name"]))
    return owners


def command_package(command: str) -> str | None:
    """The installed distribution that provides `command` (a console script or a bundled binary)."""
    return _command_owners().get(command)


def exact_pins(lines: Iterable[str]) -> dict[str, str]:
    """{canonical name: version} of the requirements pinned with `==`; other lines are ignored."""
    pins = {}
    for line in lines:
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        if len(specifiers) == 1 and specifiers[0].operator == "==":
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def pyproject_pins(pyproject: Path, extra: str = "dev") -> dict[str, str]:
    """The `==` pins of one extra of a pyproject.toml."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return exact_pins(project["optional-dependencies"][extra])


def requirements_pins(requirements: Path) -> dict[str, str]:
    """The `==` pins of a requirements file (comments and blank lines skipped)."""
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return exact_pins(line for line in lines if line)
