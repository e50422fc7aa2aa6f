"""`make image`: build, size and run the serving image with the container engine this machine has.

A reachable Docker engine gets `docker build` (BuildKit, as in CI); otherwise buildah builds
(`buildah bud`, no daemon; this is how the template's own tests build). The model's identity
(the exported release file) and the digest of the bundle's bytes become build args, hence OCI
labels, and the tag `NAME:model-<version>`, so one tag is one model version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from << cookiecutter.package >>.digest import bundle_digest
from << cookiecutter.package >>.paths import MODEL_DIR, Reports, release_file, signature_file
from << cookiecutter.package >>.signing import GITHUB_ISSUER, key_file

ENGINES = ("docker", "buildah")
CONTAINER_PORT = 8080
PUBLIC_KEY_FILE = Path("build/signing.pub.pem")  # a release image's trusted key, when signing with a key pair
UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}  # buildah prints decimal units


# The Dockerfile's digest-pinned Python base, on the literal FROM line Dependabot updates.
_PYTHON_BASE = re.compile(r"^FROM\s+(\S+@sha256:[0-9a-f]{64})\s+AS\s+python-base\s*$", re.MULTILINE)


class ImageError(RuntimeError):
    """No usable container engine, or the engine failed."""


def pinned_python_base(dockerfile: Path) -> str:
    """The `python-base` stage's image reference, passed as PYTHON_IMAGE so the base label names it."""
    match = _PYTHON_BASE.search(dockerfile.read_text())
    if match is None:
        raise ImageError(f"{dockerfile} has no `FROM IMAGE@sha256:DIGEST AS python-base` line: pin the base by digest")
    return match[1]


def _docker_running() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False)
    return probe.returncode == 0


def detect_engine(preferred: str | None = None) -> str:
    """`preferred` if given, else docker when its engine answers, else buildah."""
    if preferred:
        if preferred not in ENGINES:
            raise ImageError(f"unknown container engine {preferred!r}; use one of {', '.join(ENGINES)}")
        return preferred
    if _docker_running():
        return "docker"
    if shutil.which("buildah"):
        return "buildah"
    raise ImageError("no container engine: start Docker, or install buildah (apt-get install buildah)")


def exported_release(context: Path) -> dict:
    """Which registered version `make export` put into the build context."""
    path = release_file(context / MODEL_DIR)
    if not path.is_file():
        raise ImageError(f"{path} missing: run `make export` first")
    return json.loads(path.read_text())


def model_metadata(context: Path) -> dict:
    """Which version the exported bundle is (`make export` wrote it beside the bundle), with the
    digest recomputed from the bundle's bytes: the label states what the image holds, not a claim."""
    bundle, release = context / MODEL_DIR, exported_release(context)
    digest = bundle_digest(bundle)
    if release.get("model_digest") != digest:
        raise ImageError(
            f"{bundle} gives {digest}, not the {release.get('model_digest')} it was exported as: "
            "run `make export` again"
        )
    return {**release, "model_digest": digest}


def image_tag(name: str, context: Path) -> str:
    """`model-<n>`, n being the candidates version the model was trained as, so one tag never
    names two models (versions promoted before the candidates model existed keep their own)."""
    metadata = exported_release(context)
    return f"{name}:model-{metadata.get('candidate_version') or metadata['model_version']}"


def public_url(url: str) -> str:
    """`url` without its user and password: a git remote may carry a token (`user:token@`
    before the host), and the source label is public and printed."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def build_image(
    context: Path,
    name: str,
    engine: str,
    base_image: str | None = None,
    revision: str = "unknown",
    source_url: str = "",
    extra_flags: list[str] | None = None,
) -> str:
    """Build the `serve` target of `context`/Dockerfile around the exported model; return the tag."""
    metadata = model_metadata(context)
    build_args = {
        "MODEL_NAME": metadata["model_name"],
        "MODEL_VERSION": metadata["model_version"],
        "MODEL_RUN_ID": metadata["run_id"],
        "MODEL_DIGEST": metadata["model_digest"],
        "GIT_SHA": revision,
        "SOURCE_URL": public_url(source_url),
        "PYTHON_IMAGE": base_image or pinned_python_base(context / "Dockerfile"),
    }
    return _build(context, engine, "serve", image_tag(name, context), build_args, extra_flags)


def build_release_image(
    context: Path,
    name: str,
    engine: str,
    staged_image: str | None = None,
    extra_flags: list[str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> str:
    """Build the `release` target: the staged image of the exported production version (default
    NAME:model-<candidate version>) plus its signature and the trusted signer from `environ`
    (see signing.py); the build itself verifies the signature. Return the tag NAME:release-<version>."""
    release = exported_release(context)
    build_args = {"STAGED_IMAGE": staged_image or image_tag(name, context), **signer_build_args(context, environ)}
    return _build(context, engine, "release", f"{name}:release-{release['model_version']}", build_args, extra_flags)


def signer_build_args(context: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The release stage's trusted signer, from the environment: a public key (written into the
    build context as PUBLIC_KEY_FILE) or a keyless identity. CI passes these as build args too."""
    signature = signature_file(context / MODEL_DIR)
    if not signature.is_file():
        raise ImageError(f"{signature} missing: `make export` of a promoted (signed) production version writes it")
    key = context / PUBLIC_KEY_FILE
    key.unlink(missing_ok=True)
    if environ.get("MODEL_SIGNING_PUBLIC_KEY"):
        with key_file(environ["MODEL_SIGNING_PUBLIC_KEY"]) as public:
            key.write_text(public.read_text())
        return {"MODEL_SIGNING_PUBLIC_KEY": f"/opt/{key.name}"}
    identity = environ.get("MODEL_SIGNING_IDENTITY") or _keyless_signer(context)
    if identity:
        issuer = environ.get("MODEL_SIGNING_ISSUER", GITHUB_ISSUER)
        return {"MODEL_SIGNING_IDENTITY": identity, "MODEL_SIGNING_ISSUER": issuer}
    raise ImageError(
        "a release image fixes its trusted signer: set MODEL_SIGNING_PUBLIC_KEY (key pair) or "
        "MODEL_SIGNING_IDENTITY (keyless: the promote workflow's identity, as `make promote` printed it)"
    )


def _keyless_signer(context: Path) -> str | None:
    """The identity `make promote` signed with keylessly (reports/promote.json), if it did."""
    record = context / Reports().promotion
    signed_with = json.loads(record.read_text()).get("signed_with", "") if record.is_file() else ""
    return signed_with if signed_with.startswith("https://") else None


def _build(
    context: Path, engine: str, target: str, tag: str, build_args: dict[str, str], extra_flags: list[str] | None
) -> str:
    # buildah writes OCI images by default, which drop HEALTHCHECK; the docker format keeps it
    command = ["docker", "build"] if engine == "docker" else ["buildah", "bud", "--format", "docker", "--layers"]
    command += ["--target", target, "--tag", tag, "--file", str(context / "Dockerfile")]
    command += [flag for key, value in build_args.items() for flag in ("--build-arg", f"{key}={value}")]
    command += [*(extra_flags or []), str(context)]
    print("+", " ".join(command), flush=True)
    if subprocess.run(command, check=False).returncode != 0:
        raise ImageError(f"{engine} could not build {tag} (output above)")
    print(f"built {tag} with {engine}")
    return tag


def _output(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def parse_size(text: str) -> int:
    """Bytes from buildah's human-readable size ("307 MB")."""
    match = re.fullmatch(r"([\d.]+)\s*([kKmMgGtT]?)B?", text.strip())
    if not match:
        raise ImageError(f"cannot read an image size from {text!r}")
    return round(float(match[1]) * UNITS[match[2].lower()])


def image_size(engine: str, image: str) -> int:
    """Uncompressed size in bytes (buildah reports 3 significant digits)."""
    if engine == "buildah":
        return parse_size(_output(["buildah", "images", "--format", "{{.Size}}", image]).split("\n")[0])
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode:
        subprocess.run(["docker", "pull", "--quiet", image], check=True)  # BuildKit keeps base images out of the store
    return int(_output(["docker", "image", "inspect", "--format", "{{.Size}}", image]))


def image_config(engine: str, image: str) -> dict:
    """The image's Docker-format config: Labels, Entrypoint, Cmd, User, Healthcheck, ..."""
    if engine == "buildah":
        return json.loads(_output(["buildah", "inspect", "--type", "image", image]))["Docker"]["config"]
    return json.loads(_output(["docker", "image", "inspect", image]))[0]["Config"]


@contextmanager
def running(engine: str, image: str, port: int) -> Iterator[subprocess.Popen]:
    """Run the image's server on 127.0.0.1:`port` until the block ends.

    docker publishes the container port on loopback; buildah runs the entry point in a working
    container that shares the host's network, so the server itself binds loopback.
    """
    container = None
    if engine == "buildah":
        entrypoint = image_config(engine, image)["Entrypoint"]
        container = _output(["buildah", "from", image]).strip()
        command = ["buildah", "run", container, "--", *entrypoint, "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = ["docker", "run", "--rm", "--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}", image]
    process = subprocess.Popen(command, start_new_session=True)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if container:
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
