"""The promotion lock belongs to its holder: a release never deletes a lock someone else took."""

from << cookiecutter.package >>.promotion.lock import LOCK_SUFFIX, alias_lock
from << cookiecutter.package >>.tracking import connect


def test_lock_is_released_only_by_its_holder(params, tmp_path):
    mlflow = params.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    client = connect(params.model_copy(update={"mlflow": mlflow}))
    lock_name = f"{params.model.name}{LOCK_SUFFIX}"
    with alias_lock(client, params.model.name):
        client.delete_registered_model(lock_name)  # as if broken as stale and retaken by another runner
        client.create_registered_model(lock_name, description="held by someone else")
    assert client.get_registered_model(lock_name).description == "held by someone else"
    client.delete_registered_model(lock_name)
    with alias_lock(client, params.model.name):
        assert client.get_registered_model(lock_name)
    assert client.search_registered_models(filter_string=f"name = '{lock_name}'") == []  # released
