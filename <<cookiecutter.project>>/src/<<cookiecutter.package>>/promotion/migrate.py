"""`make migrate-champion`: a champion registered before served bundles, published again as one.

Versions registered by earlier releases of this template hold torch files (weights,
architecture, preprocessor under `artifacts/bundle`), which the gate, scoring with ONNX Runtime
alone, cannot load: every gate against such a champion fails closed. This exports the champion
into a served bundle with this checkout's code, checks it against torch on the project's data,
and publishes it like a promotion (signed, copied into production storage, compare-and-set) as
a new production version tagged with the version it was made from. It needs torch (the train
extra) and the production credential; run it once, after `make update-template`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.digest import DIGEST_TAG, bundle_digest
from << cookiecutter.package >>.paths import SERVED_ARTIFACT, Reports
from << cookiecutter.package >>.promotion.promote import PromotionRefused, publish
from << cookiecutter.package >>.promotion.registry import CHAMPION, alias_version
from << cookiecutter.package >>.tracking import connect

LEGACY_BUNDLE = "artifacts/bundle"  # where the earlier layout kept a version's torch files
KEPT_TAGS = ("source.model", "source.version", "eval_data_hash")  # lineage of the migrated version


def migrate_champion(params: Params, reports: Reports) -> str:
    """Publish the champion's served bundle as the new champion; return its version."""
    from << cookiecutter.package >>.data import class_names, read_table, to_dataset
    from << cookiecutter.package >>.training.model import ModelBundle
    from << cookiecutter.package >>.training.onnx_export import checked_bundle

    client, name = connect(params), params.model.name
    champion = alias_version(client, name, CHAMPION)
    if champion is None:
        raise PromotionRefused(f"{name} has no champion: nothing to migrate")
    registered = client.get_model_version(name, champion)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            uri = f"models:/{name}/{champion}/{LEGACY_BUNDLE}"
            legacy = mlflow.artifacts.download_artifacts(uri, dst_path=scratch, tracking_uri=client.tracking_uri)
        except MlflowException as error:
            raise PromotionRefused(
                f"{name} version {champion} holds no {LEGACY_BUNDLE}: it is a served bundle already; nothing to migrate"
            ) from error
        frame = read_table(params.data.path, params.data.na_values)
        features = to_dataset(frame, params.data, class_names(frame, params.data)).features
        served = Path(scratch) / SERVED_ARTIFACT
        checked_bundle(ModelBundle.load(Path(legacy)), served, {}, features)
        tags = registered.tags or {}
        lineage = {key: tags[key] for key in KEPT_TAGS if key in tags}
        lineage |= {DIGEST_TAG: bundle_digest(served), "migrated.from_version": champion}
        published = publish(client, params, served, lineage, champion, f"{name}-v{champion}-migrated")
    record = {"model_name": name, "champion": published.version, "previous_champion": champion, **lineage}
    reports.write(reports.promotion, json.dumps(record, indent=2) + "\n")
    print(f"{name}: champion is now version {published.version}, version {champion} as a signed served bundle")
    return published.version
