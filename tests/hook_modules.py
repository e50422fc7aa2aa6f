"""The hooks imported as modules, so their logic is unit-tested without a render."""

import importlib.util
from pathlib import Path
from types import ModuleType

HOOKS_DIR = Path(__file__).resolve().parents[1] / "hooks"


def load_hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HOOKS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")
