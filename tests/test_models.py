from pathlib import Path

import pytest

from nlpdiff.errors import ParameterError
from nlpdiff.models import load_classifier, packaged_minilm_path, resolve_model


def test_default_model_is_the_packaged_minilm():
    path = Path(resolve_model("minilm"))
    assert path == packaged_minilm_path()
    assert (path / "config.json").is_file()
    assert resolve_model(None) == str(path)


@pytest.mark.parametrize("bad", ["/does/not/exist", "./nope", "a/b/c/d", "not a hub id!"])
def test_bad_model_names_parameter(bad):
    with pytest.raises(ParameterError) as err:
        resolve_model(bad)
    assert err.value.param == "model" and bad in str(err.value)


def test_folder_without_config(tmp_path):
    with pytest.raises(ParameterError, match="config.json"):
        resolve_model(str(tmp_path))


def test_hub_id_passes_through():
    assert resolve_model("distilbert/distilbert-base-uncased") == "distilbert/distilbert-base-uncased"


def test_load_classifier_has_a_fresh_seeded_head():
    a = load_classifier("minilm", num_labels=3, seed=1)
    b = load_classifier("minilm", num_labels=3, seed=1)
    assert a.model.config.num_labels == 3
    assert 22_000_000 < a.n_parameters < 23_000_000
    wa = a.model.classifier.weight.detach()
    assert (wa == b.model.classifier.weight.detach()).all()
