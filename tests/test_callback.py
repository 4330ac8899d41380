"""nlpdiff.callback.DynamicsCallback: a user's own transformers.Trainer run writes a run directory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import accelerate  # noqa: E402,F401  (transformers.Trainer needs it: a declared dependency, never skipped)

from nlpdiff import rundir, tasks  # noqa: E402
from nlpdiff.callback import DynamicsCallback  # noqa: E402
from nlpdiff.errors import ParameterError  # noqa: E402

N_TRAIN, EPOCHS, BATCH = 32, 2, 16


def _dataset(frame: pd.DataFrame, tokenizer):
    from datasets import Dataset

    ds = Dataset.from_pandas(frame[["idx", "sentence", "label"]].reset_index(drop=True), preserve_index=False)
    return ds.map(lambda b: tokenizer(b["sentence"], truncation=True, max_length=24), batched=True)


@pytest.fixture(scope="module")
def trainer_run(tiny_data_dir, tmp_path_factory):
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from nlpdiff.models.hub import load_classifier

    tmp = tmp_path_factory.mktemp("trainer")
    loaded = load_classifier("minilm", num_labels=2, seed=0)
    train_df = tasks.load_split("sst2", "train", data_dir=tiny_data_dir).iloc[:N_TRAIN]
    val_df = tasks.load_split("sst2", "validation", data_dir=tiny_data_dir).iloc[:16]
    train_ds, val_ds = _dataset(train_df, loaded.tokenizer), _dataset(val_df, loaded.tokenizer)

    def accuracy(pred):
        return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}

    callbacks = {
        # the Trainer's own training set and collator, found from its train_dataloader
        "auto": DynamicsCallback(tmp / "auto", eval_batch_size=8),
        # the dataset given to the Trainer, with its text columns, recorded every optimiser step
        "given": DynamicsCallback(tmp / "given", train_dataset=train_ds, every=1),
    }
    args = TrainingArguments(
        output_dir=str(tmp / "hf"), report_to=[], save_strategy="no", use_cpu=True, num_train_epochs=EPOCHS,
        per_device_train_batch_size=BATCH, per_device_eval_batch_size=16, learning_rate=1e-4,
        eval_strategy="epoch", logging_strategy="no", disable_tqdm=True, seed=0,
    )
    trainer = Trainer(model=loaded.model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                      data_collator=DataCollatorWithPadding(loaded.tokenizer), compute_metrics=accuracy,
                      callbacks=list(callbacks.values()))
    trainer.train()
    return trainer, train_ds, callbacks


@pytest.mark.slow
def test_trainer_run_keeps_the_run_directory_contract(trainer_run):
    trainer, train_ds, callbacks = trainer_run
    run = rundir.load_run(callbacks["auto"].output_dir)  # raises unless the contract holds
    assert callbacks["auto"].run is not None
    info = json.loads((run.path / "run.json").read_text())
    assert info["status"] == "complete" and info["kind"] == "trainer_callback"
    assert info["resolved"]["model_class"] == "BertForSequenceClassification"
    assert info["resolved"]["n_checkpoints"] == EPOCHS and info["training_args"]["num_train_epochs"] == EPOCHS
    assert info["wall_time_s"]["eval_pass"] > 0
    assert not list(run.path.glob("*.tmp"))

    assert list(run.samples["sample_id"]) == list(range(N_TRAIN))
    assert (run.samples["label"].to_numpy() == np.array(train_ds["label"])).all()
    assert (run.samples["original_label"] == run.samples["label"]).all() and not run.samples["is_corrupted"].any()
    assert (run.samples["n_tokens"].to_numpy() == [len(x) for x in train_ds["input_ids"]]).all()

    dyn = run.dynamics
    assert set(rundir.DYNAMICS_COLUMNS) <= set(dyn.columns) and "el2n" in dyn.columns
    assert set(dyn["pass"]) == {"eval"}
    assert len(dyn) == EPOCHS * N_TRAIN  # 2 checkpoints x 32 samples
    assert dyn.groupby("checkpoint")["sample_id"].apply(lambda s: sorted(s) == list(range(N_TRAIN))).all()
    steps_per_epoch = N_TRAIN // BATCH
    assert dyn.groupby("checkpoint")["step"].first().tolist() == [steps_per_epoch, 2 * steps_per_epoch]
    assert dyn.groupby("checkpoint")["epoch"].first().tolist() == pytest.approx([1.0, 2.0])
    assert np.allclose(np.exp(-dyn["loss"]), dyn["gold_prob"], atol=1e-5)

    # the action score is the sum over checkpoints of the eval-pass losses
    action = dyn.groupby("sample_id")["loss"].sum()
    scores = run.scores.set_index("sample_id")
    np.testing.assert_allclose(scores.loc[action.index, "action"].to_numpy(), action.to_numpy(), rtol=1e-6)
    assert "action_train" not in scores.columns  # no training-pass rows from a Trainer

    # metrics.json: one row per checkpoint with the Trainer's own eval metrics of that step
    metrics = run.metrics
    assert [c["checkpoint"] for c in metrics["checkpoints"]] == [0, 1]
    assert all(0 <= c["heldout_accuracy"] <= 1 and c["heldout_loss"] > 0 for c in metrics["checkpoints"])
    assert len(metrics["evaluations"]) == EPOCHS and metrics["metric"] == "heldout_accuracy"
    assert metrics["final"] == metrics["checkpoints"][-1]


@pytest.mark.slow
def test_last_checkpoint_equals_a_direct_forward_pass(trainer_run):
    """Sample ids line up: the last recorded losses are the final model's, sample by sample."""
    trainer, train_ds, callbacks = trainer_run
    run = rundir.load_run(callbacks["auto"].output_dir)
    model = trainer.model.eval()
    tokenizer = trainer.data_collator.tokenizer
    enc = tokenizer(list(train_ds["sentence"]), truncation=True, max_length=24, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    labels = torch.tensor(train_ds["label"])
    loss = torch.nn.functional.cross_entropy(logits, labels, reduction="none").numpy()
    last = run.dynamics[run.dynamics["checkpoint"] == EPOCHS - 1].sort_values("sample_id")
    np.testing.assert_allclose(last["loss"].to_numpy(), loss, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_given_dataset_every_step(trainer_run):
    trainer, train_ds, callbacks = trainer_run
    auto = rundir.load_run(callbacks["auto"].output_dir)
    run = rundir.load_run(callbacks["given"].output_dir)
    # the text columns of the given dataset go into samples.parquet
    assert list(run.samples["sentence"]) == list(train_ds["sentence"])
    assert list(run.samples["idx"]) == list(train_ds["idx"])
    steps = run.dynamics.groupby("checkpoint")["step"].first().tolist()
    assert steps == [1, 2, 3, 4] and len(run.dynamics) == 4 * N_TRAIN
    assert [c["step"] for c in run.metrics["checkpoints"]] == steps
    # evaluations land on the checkpoint of their step (epoch ends: steps 2 and 4)
    assert "heldout_accuracy" not in run.metrics["checkpoints"][0]
    assert "heldout_accuracy" in run.metrics["checkpoints"][1]
    # the checkpoints at the epoch ends are the same model state as the epoch callback's
    cols = ["sample_id", "loss", "gold_prob", "margin"]
    for k_auto, k_steps in ((0, 1), (1, 3)):
        a = auto.dynamics[auto.dynamics["checkpoint"] == k_auto][cols].reset_index(drop=True)
        b = run.dynamics[run.dynamics["checkpoint"] == k_steps][cols].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, rtol=1e-4, atol=1e-5)


def _tiny_config(cls_name: str):
    import transformers

    if cls_name.startswith("T5"):
        return transformers.T5Config(vocab_size=50, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    return transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=32)


@pytest.mark.parametrize("cls_name, model_type, what", [
    ("BertForQuestionAnswering", "bert", "question answering"),
    ("T5ForConditionalGeneration", "t5", "sequence-to-sequence"),
    ("BertForTokenClassification", "bert", "this kind of model"),
])
def test_unsupported_models_are_named(cls_name, model_type, what, tmp_path):
    import transformers

    model = getattr(transformers, cls_name)(_tiny_config(cls_name))
    cb = DynamicsCallback(tmp_path / "run")
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "hf"), report_to=[], use_cpu=True)
    with pytest.raises(ParameterError) as err:
        cb.on_train_begin(args, transformers.TrainerState(), transformers.TrainerControl(), model=model)
    assert cls_name in str(err.value) and repr(model_type) in str(err.value) and what in str(err.value)
    assert not (tmp_path / "run" / "run.json").exists()


def test_regression_head_is_refused(tmp_path):
    import transformers

    config = _tiny_config("Bert")
    config.num_labels = 1
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "hf"), report_to=[], use_cpu=True)
    with pytest.raises(ParameterError, match="num_labels"):
        DynamicsCallback(tmp_path / "run").on_train_begin(
            args, transformers.TrainerState(), transformers.TrainerControl(), model=model)


@pytest.mark.parametrize("kwargs, param", [
    ({"every": 0}, "every"), ({"every": "step"}, "every"), ({"eval_batch_size": 0}, "eval_batch_size"),
    ({"label_column": ""}, "label_column"), ({"train_dataset": []}, "train_dataset"),
])
def test_bad_arguments(kwargs, param, tmp_path):
    with pytest.raises(ParameterError) as err:
        DynamicsCallback(tmp_path / "run", **kwargs)
    assert err.value.param == param


def test_exported_from_package():
    import nlpdiff

    assert nlpdiff.DynamicsCallback is DynamicsCallback


@pytest.mark.slow
def test_trainer_run_is_indexed_and_analysable_like_any_run(trainer_run, tiny_data_dir, tmp_path):
    """A callback run and an nlpdiff run side by side: both in the index, both go through the same analyses."""
    from nlpdiff import analysis, compare, plots
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    trainer, train_ds, callbacks = trainer_run
    root = callbacks["auto"].output_dir.parent
    own = train(from_flat(dict(train_size=32, eval_size=16, epochs=2, batch_size=16, max_length=24,
                               learning_rate=1e-4, data_dir=str(tiny_data_dir), output_dir=str(root / "own" / "run"))),
                progress=False)
    index = compare.run_index(root).set_index("name")
    assert index.loc["auto", "kind"] == "trainer_callback" and index.loc["given", "kind"] == "trainer_callback"
    assert index.loc["own", "kind"] == "train"
    assert index.loc["auto", "n_train"] == N_TRAIN and index.loc["auto", "checkpoints"] == EPOCHS
    assert index.loc["auto", "heldout_metric"] == "heldout_accuracy"
    assert list(compare.run_index(root, kinds=("train",))["name"]) == ["own"]
    # a chapter leaves out another chapter's slice folder (compare.ANALYSIS_FOLDERS), here "own"
    assert set(compare.run_index(root, exclude=("own",))["name"]) == set(index.index) - {"own"}
    for path in (index.loc["auto", "path"], own.path):
        run = rundir.load_run(path)
        cols = compare.score_columns(run.scores)
        assert "action" in cols
        hardest, easiest = analysis.extremes(run.samples, run.scores, "action", k=3)
        assert len(hardest) == len(easiest) == 3
        assert len(analysis.cartography_map(run.dynamics, pass_="eval")) == len(run.samples)
        plots.learning_curve(run.metrics_frame())


# ------------------------------------------------------------- input checks and the run-directory guard


def _begin(cb, tmp_path, model=None, **trainer):
    import transformers

    model = model or transformers.BertForSequenceClassification(_tiny_config("Bert"))
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "hf"), report_to=[], use_cpu=True)
    cb.on_train_begin(args, transformers.TrainerState(), transformers.TrainerControl(), model=model, **trainer)


@pytest.mark.parametrize("labels, texts, param, words", [
    (["pos", "neg", "pos", "neg"], None, "label", ["integer class ids", "4 string labels", "class_encode_column"]),
    ([1, None, 0, 1], None, "label", ["a label in every sample", "1 samples without one, at row(s) 1"]),
    ([1, 1, 1, 1], None, "label", ["at least two classes"]),
    ([0, 1, 2, 1], None, "label", ["0 .. 1", "at row(s) 2"]),
    ([0, 1, 0, 1], ["fine", " ", "ok", None], "sentence", ["non-empty text", "2 empty cells", "at row(s) 1, 3"]),
    (None, None, "label_column", ["a label in every sample", "input_ids"]),
])
def test_dataset_is_checked_before_the_first_step(labels, texts, param, words, tmp_path):
    """String labels, a missing label, one class, an id out of range, an empty text: one clear error when
    training starts (not transformers' 'Unable to create tensor'), and no run folder."""
    from datasets import Dataset

    data = {"input_ids": [[1, 2, 3]] * 4}
    if labels is not None:
        data["label"] = labels
    if texts is not None:
        data["sentence"] = texts
    cb = DynamicsCallback(tmp_path / "run", train_dataset=Dataset.from_dict(data))
    with pytest.raises(ParameterError) as err:
        _begin(cb, tmp_path)
    assert err.value.param == param and all(w in str(err.value) for w in words), str(err.value)
    assert not (tmp_path / "run").exists()


def test_an_unwritable_output_folder_is_refused_before_the_first_step(tmp_path):
    from datasets import Dataset

    (tmp_path / "file").write_text("")
    cb = DynamicsCallback(tmp_path / "file" / "run",
                          train_dataset=Dataset.from_dict({"input_ids": [[1, 2]] * 4, "label": [0, 1, 0, 1]}))
    with pytest.raises(ParameterError, match="output_dir=.*a folder that can be written"):
        _begin(cb, tmp_path)


@pytest.mark.slow
def test_a_finished_run_is_not_replaced_silently(trainer_run, tmp_path):
    import shutil

    trainer, train_ds, callbacks = trainer_run
    folder = tmp_path / "auto"
    shutil.copytree(callbacks["auto"].output_dir, folder)
    started = rundir.load_run(folder).info["started_at"]

    from types import SimpleNamespace

    loader = SimpleNamespace(dataset=trainer.train_dataset, collate_fn=trainer.data_collator)  # as the Trainer's

    def begin(cb):
        cb.on_train_begin(trainer.args, trainer.state, trainer.control, model=trainer.model, train_dataloader=loader)

    with pytest.raises(ParameterError, match=r"overwrite=True.*every 'epoch' -> 1") as err:
        begin(DynamicsCallback(folder, eval_batch_size=8, every=1))  # other callback parameters
    assert err.value.param == "overwrite" and rundir.load_run(folder).info["started_at"] == started
    with pytest.raises(ParameterError, match=r"n_train 32 -> 16"):  # another dataset
        begin(DynamicsCallback(folder, eval_batch_size=8, train_dataset=train_ds.select(range(16))))
    begin(DynamicsCallback(folder, eval_batch_size=8))  # the same run again: allowed (it starts afresh)
    assert not (folder / "run.json").exists()
    shutil.copytree(callbacks["auto"].output_dir, folder, dirs_exist_ok=True)
    begin(DynamicsCallback(folder, every=1, overwrite=True))  # replaced on request
    assert not (folder / "run.json").exists()
