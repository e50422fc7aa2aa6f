"""The cookiecutter hooks imported as modules, so their logic is unit-tested without a render."""

import importlib.util
from types import ModuleType

from support.template import TEMPLATE_DIR

HOOKS_DIR = TEMPLATE_DIR / "hooks"


def load_hook(name: str) -> ModuleType:
    """hooks/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(name, HOOKS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")
