"""The serving image holds exactly what the server imports: no training, gate or export code,
and none of torch, MLflow or pandas.

The Dockerfile lists the package files it copies; a fresh interpreter that imports the server
and its prediction log must load exactly those files of the package and none of the libraries
the image leaves out. Add an import to the server and this fails until the Dockerfile copies it.
"""

import re

from tests.helpers import PROJECT_ROOT, loaded_after_import

NOT_IN_THE_IMAGE = {"torch", "mlflow", "pandas", "great_expectations", "yaml", "sklearn"}
SERVER = "<< cookiecutter.package >>.serving.app"
PREDICTION_LOG = "<< cookiecutter.package >>.monitoring.prediction_log"
PACKAGE_DIR = PROJECT_ROOT / "src" / "<< cookiecutter.package >>"


def _serve_stage(dockerfile: str) -> str:
    start = dockerfile.index(" AS serve\n")
    end = dockerfile.find("\nFROM ", start)
    return dockerfile[start : end if end > 0 else None]


def copied_package_files() -> set[str]:
    """Package files (relative to src/) that the Dockerfile's serve stage copies."""
    files = set()
    for line in _serve_stage((PROJECT_ROOT / "Dockerfile").read_text()).splitlines():
        if not line.startswith("COPY src/"):
            continue
        for source in line.split()[1:-1]:
            path = PROJECT_ROOT / source
            found = path.rglob("*.py") if path.is_dir() else [path]
            files |= {found_path.relative_to(PROJECT_ROOT / "src").as_posix() for found_path in found}
    return files


def imported_package_files(loaded: set[str]) -> set[str]:
    """The package's source files behind the loaded module names (packages count as their __init__)."""
    files = set()
    for name in loaded:
        if name == "<< cookiecutter.package >>" or name.startswith("<< cookiecutter.package >>."):
            relative = PACKAGE_DIR.parent / name.replace(".", "/")
            module = relative / "__init__.py" if relative.is_dir() else relative.with_suffix(".py")
            files.add(module.relative_to(PACKAGE_DIR.parent).as_posix())
    return files


def test_server_loads_none_of_what_the_image_leaves_out():
    loaded = loaded_after_import(SERVER, PREDICTION_LOG)
    assert {name.split(".")[0] for name in loaded} & NOT_IN_THE_IMAGE == set()


def test_dockerfile_copies_exactly_what_the_server_imports():
    assert copied_package_files() == imported_package_files(loaded_after_import(SERVER, PREDICTION_LOG))


def test_image_runs_the_server_it_was_checked_for():
    entrypoint = re.search(
        r'^ENTRYPOINT \["python", "-m", "([\w.]+)"\]', (PROJECT_ROOT / "Dockerfile").read_text(), re.M
    )
    assert entrypoint and entrypoint[1] == SERVER
