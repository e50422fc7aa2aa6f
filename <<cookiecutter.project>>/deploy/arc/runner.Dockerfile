# syntax=docker/dockerfile:1
# The runner image of the ARC scale set (gpu-runner-scale-set.values.yaml): the stock
# actions-runner image plus what the reusable workflows' setup-project action runs on the
# runner itself: make, python3 with venv, and uv at the version the action pins
# (uv-requirements.txt, the action's own list: one version, every wheel's hash), so the action
# finds that uv on PATH and installs none. Build it with this folder as the context:
#   docker build -f deploy/arc/runner.Dockerfile -t REGISTRY/YOUR-ORG/actions-runner-ml:2.337.0 deploy/arc
#
# The base is pinned by digest on a literal FROM line, so that Dependabot's docker ecosystem
# moves tag and digest together; the build arg RUNNER_IMAGE names another base (a mirror, a
# stand-in), and by default names that stage.
ARG RUNNER_IMAGE=actions-runner
FROM ghcr.io/actions/actions-runner:2.337.0@sha256:e5496277be5d09bc968b3d64911b74e219ac4a3f2edce956a3ecf9271bea1ef4 AS actions-runner

FROM ${RUNNER_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
USER 0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY uv-requirements.txt /tmp/uv-requirements.txt
# Versions come from the base image's Ubuntu release, which the digest pins.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends make python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \
      --only-binary=:all: -r /tmp/uv-requirements.txt \
 && ln -s /opt/uv/bin/uv /opt/uv/bin/uvx /usr/local/bin/ \
 && rm /tmp/uv-requirements.txt
# The stock image's user `runner` and its group `docker` by number: the pod's securityContext
# (runAsUser: 1001, runAsGroup: 123) matches them; kubelet checks runAsNonRoot only on a number.
USER 1001:123
