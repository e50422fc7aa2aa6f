"""`make ci-local`: this repository's CI (.github/workflows/ci.yml) run under act on this machine,
against a local MLflow registry, before a push (README.md here explains how)."""
