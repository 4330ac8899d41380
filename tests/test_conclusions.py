"""The answer's prose: every number is read from a committed result table, and the page is up to date."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from nlpdiff_study import conclusions
from nlpdiff.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "results" / "conclusions.ipynb"


def _glued_answer(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == "answer":
                html = next(v for k, v in data.items() if "text/html" in k)
                return html_lib.unescape(re.sub(r"<[^>]+>", "", html))  # "p &lt; 0.001" reads "p < 0.001"
    raise AssertionError(f"no glued 'answer' in {path}")


def test_templates_refuse_typed_numbers():
    with pytest.raises(ParameterError, match="typed numbers"):
        conclusions.check_template("the action score reaches 0.92 on {task}")
    conclusions.check_template("on SST-2 the action score reaches {auc} (95 % interval {lo} to {hi})")


def test_check_text_finds_a_number_that_was_not_read():
    claim = conclusions.Claim("x", "AUROC {auc}", {"auc": conclusions.Figure(0.9123, "t.csv")})
    text = claim.render()
    assert text == "AUROC 0.912" and conclusions.check_text(text, [claim]) == []
    assert conclusions.check_text(text + " and 0.95 elsewhere", [claim]) == ["0.95"]
    assert conclusions.numbers_in("1,507 pairs, 10 %, p = 0.08, SST-2") == ["1,507", "10", "0.08"]


def test_every_number_of_the_answer_is_read_from_the_committed_tables():
    claims, skipped = conclusions.answer(ROOT / "results")
    assert claims, f"no claim could be made from results/ (skipped: {skipped})"
    text = conclusions.render(claims)
    assert conclusions.check_text(text, claims) == []
    assert len(claims) <= 6 and all(len(re.findall(r"[.!?](?:\s|$)", c.render())) == 1 for c in claims), \
        "the answer is six sentences at most, one per analysis"


def test_the_committed_page_shows_the_answer_of_the_committed_tables():
    claims, _ = conclusions.answer(ROOT / "results")
    page = " ".join(_glued_answer(PAGE).split())
    expected = re.sub(r"[`*]", "", conclusions.render(claims)).replace("- ", "")
    assert page == " ".join(expected.split()), (
        "book/results/conclusions.ipynb is stale: re-render it with `nlpdiff run conclusions -o "
        "book/results/conclusions.ipynb`")
    assert conclusions.check_text(page, claims) == []


def test_the_first_page_pastes_the_answer():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert "```{glue} answer\n:doc: results/conclusions.ipynb" in intro


def _reading(folder, task: str, top_bad: int, random_bad: int, noise_rate: float = 0.0) -> None:
    import json

    folder.mkdir(parents=True)
    key = pd.DataFrame({"item": range(1, 21), "group": ["top"] * 10 + ["random"] * 10,
                        "text": [f"t{i}" for i in range(20)], "given_label": "pos", "rank": range(1, 21)})
    judged = ["mislabelled"] * top_bad + ["correct"] * (10 - top_bad) + ["mislabelled"] * random_bad + \
        ["correct"] * (10 - random_bad)
    key.to_csv(folder / "key.csv", index=False)
    key[["item", "text", "given_label"]].assign(judgement=judged, note="").to_csv(folder / "sheet.csv", index=False)
    key[key["group"] == "top"].assign(is_corrupted=False).to_csv(folder / "top.csv", index=False)
    (folder / "run.json").write_text(json.dumps({"params": {"task": task, "noise_rate": noise_rate}}))


def test_the_reading_sentence_reads_its_counts_and_its_verdict(tmp_path):
    from nlpdiff_study.conclusions import check_text, reading_claim

    assert reading_claim(tmp_path) is None  # no reading committed: the sentence is skipped
    _reading(tmp_path / "readings" / "a_clean", "sst2", top_bad=9, random_bad=0)
    _reading(tmp_path / "readings" / "b_noisy", "sst2", top_bad=9, random_bad=0, noise_rate=0.2)  # not a reading
    claim = reading_claim(tmp_path)
    text = claim.render()
    assert "9 of its 10 top suspects in SST-2" in text and "against 0 of 10" in text
    assert "finds more real label errors than random samples do" in text and check_text(text, [claim]) == []
    _reading(tmp_path / "readings" / "c_clean", "snli_chaosnli", top_bad=1, random_bad=1)
    text = reading_claim(tmp_path).render()
    assert "in some data sets only" in text and "in SNLI" in text


def test_every_sentence_names_its_test_family_and_margin():
    claims, _ = conclusions.answer(ROOT / "results")
    for claim in claims:
        conclusions.check_statistics(claim)  # raises on a missing test, family or margin
        assert claim.test and claim.family and claim.margin


def test_no_difference_wording_needs_an_equivalence_test():
    bare = conclusions.Claim("x", "the action score is no better and no worse than {b}",
                             {"b": conclusions.Name("aum", "t.csv")}, test="t", family="f", margin="0.01")
    with pytest.raises(ParameterError, match="equivalence"):
        conclusions.check_statistics(bare)
    conclusions.check_statistics(conclusions.Claim(bare.analysis, bare.template, bare.slots, test="t", family="f",
                                                   margin="0.01", equivalence=True))
    with pytest.raises(ParameterError, match="family"):
        conclusions.check_statistics(conclusions.Claim("x", "text", {}, test="t", margin="m"))


def test_methods_declares_the_comparisons_the_code_uses():
    from nlpdiff_study import comparisons

    methods = (ROOT / "book" / "methods.md").read_text(encoding="utf-8")
    declared = methods.split("## Declared comparisons", 1)[1].split("\n## ", 1)[0]
    for baseline in comparisons.PRIMARY_BASELINES:
        assert f"`{baseline}`" in declared, baseline
    assert f"{comparisons.MARGIN_AUC} ROC AUC" in declared
    assert f"({comparisons.MARGIN_ACCURACY})" in declared and "1 point of held-out accuracy" in declared
    # the model-size comparisons: the file that declares them, at the same margin
    assert "`params/grids/model_size.yaml`" in declared and f"margin of {comparisons.MARGIN_AUC}" in declared
    assert "comparisons.MARGIN_AUC" in (ROOT / "params" / "grids" / "model_size.yaml").read_text()
    # the human-disagreement question (NLI): its baselines and margin
    assert f"margin of **{comparisons.MARGIN_RHO} in Spearman's rho**" in declared
    for baseline in comparisons.NLI_BASELINES:
        assert f"`{baseline}`" in declared, baseline
    # cleaning on real errors: the part removes by every primary baseline, and Methods declares the family
    import yaml

    cleaning = yaml.safe_load((ROOT / "params" / "grids" / "mislabel.yaml").read_text())["parts"]["cleaning_noisy_agnews_probe"]
    assert set(comparisons.PRIMARY_BASELINES) <= set(cleaning["methods"])
    assert "**Cleaning on real errors (NoisyAG-News)**" in declared
    # declared before the results: the section comes before any result page in the book's order
    toc = (ROOT / "_toc.yml").read_text()
    assert toc.index("file: book/methods") < toc.index("file: book/results/")


def test_the_answer_leaves_out_the_blind_readings():
    assert conclusions.reading_claim not in conclusions.CLAIMS


def test_no_negative_zero():
    assert conclusions.Figure(-0.0002, "t.csv").text() == "0.000"
    assert conclusions.Figure(-0.0004, "t.csv", 1, percent=True).text() == "0.0 %"


def test_p_values_read_as_p_values():
    assert conclusions.Figure(0.00001, "t.csv", pvalue=True).text() == "< 0.001"
    assert conclusions.Figure(0.0321, "t.csv", pvalue=True).text() == "0.032"


def test_the_answer_has_the_real_annotator_errors():
    claims, _ = conclusions.answer(ROOT / "results")
    real = [c for c in claims if c.analysis == "Real annotator errors"]
    assert real and "NoisyAG-News" in real[0].render()
    assert conclusions.check_text(real[0].render(), real) == []


def test_the_real_errors_sentence_has_imdb_with_its_circularity_named():
    claim = conclusions.real_errors_claim(ROOT / "results")
    if claim is None or not (ROOT / "results/mislabel/imdb_test_scratch_short/summary.csv").exists():
        pytest.skip("the real-error tables are not committed")
    text = claim.render()
    imdb = pd.read_csv(ROOT / "results/mislabel/imdb_test_scratch_short/summary.csv")
    cand = imdb[imdb["subset"] == "candidates"].groupby("score")["roc_auc"].mean()
    assert f"ROC AUC {cand['action']:.3f}" in text and f"{cand['published_confident_learning']:.3f}" in text
    assert "which chose those candidates" in text


def test_the_model_size_sentence_reads_the_paired_difference(tmp_path):
    """model_size_claim on a tiny computed table: its numbers are model_size.paired_detection's."""
    import numpy as np

    from nlpdiff_study import model_size

    folder = tmp_path / "model_size" / "sst2"
    rows = [{"model": m, "seed": s, "score": sc, "roc_auc": v, "n": 100, "n_positive": 10}
            for m, shift in (("minilm", 0.0), ("mpnet", 0.03)) for s in range(3)
            for sc, v in (("action", 0.8 + shift + 0.01 * s * (1 + (m == "mpnet"))), ("aum", 0.7))]
    for m in ("minilm", "mpnet"):
        (folder / m).mkdir(parents=True)
        pd.DataFrame([r for r in rows if r["model"] == m]).drop(columns="model").to_csv(folder / m / "summary.csv")
        pd.DataFrame({"run": ["r"], "wall_s": [1.0]}).to_csv(folder / m / "cost.csv")
    pd.DataFrame({"model": ["minilm"], "run": ["r"]}).to_csv(folder / "learning.csv")
    agree = [{"score": "action", "kind": k, "model_a": a, "seed_a": 0, "model_b": b, "seed_b": 1, "spearman": r, "n": 100}
             for k, a, b, r in (("within", "minilm", "minilm", 0.9), ("within", "mpnet", "mpnet", 0.8),
                                ("across", "minilm", "mpnet", 0.6))]
    pd.DataFrame(agree).to_csv(folder / "agreement.csv")
    claim = conclusions.model_size_claim(tmp_path)
    conclusions.check_statistics(claim)
    conclusions.check_template(claim.template)
    d = model_size.paired_detection(model_size.load_part("sst2", tmp_path / "model_size")["summary"], "minilm", "mpnet")
    d = d.set_index("score").loc["action"]
    text = claim.render()
    assert f"paired difference of {d['difference']:.3f}" in text and f"{d['lo']:.3f} to {d['hi']:.3f}" in text
    assert "Spearman 0.60 against 0.85" in text and conclusions.check_text(text, [claim]) == []
    assert np.isfinite(d["p"])


def test_the_real_errors_sentence_reads_its_direction_from_the_paired_test(tmp_path):
    """The lead of the real-errors sentence follows the paired tests: real errors found as well as synthetic
    ones (no significant difference) never read as "less well"; a sample smaller than the data set is named."""
    import numpy as np

    folder = tmp_path / "mislabel"
    rng = np.random.default_rng(0)
    for part, backbone, n, k, gap in (("noisy_agnews_big", "probe", 1000, 200, 0.0),
                                      ("noisy_agnews_small", "finetune", 100, 20, 0.0)):
        rows = [{"part": part, "backbone": backbone, "length": "usual", "noise_type": noise, "seed": seed,
                 "score": score, "n": n, "n_positive": k, "roc_auc": 0.8 + (gap if noise != "real" else 0.0)
                 + rng.normal(0, 0.01), "average_precision": 0.5, "precision_at_k": 0.5, "chance_roc_auc": 0.5,
                 "chance_average_precision": k / n, "chance_precision_at_k": k / n}
                for seed in range(4) for noise in ("real", "uniform", "empirical") for score in ("action", "aum")]
        (folder / part).mkdir(parents=True)
        pd.DataFrame(rows).to_csv(folder / part / "summary.csv", index=False)
    claim = conclusions.real_errors_claim(tmp_path)
    text = claim.render()
    assert "is not shown to find real errors less well" in text and "finds real errors less well" not in text
    assert "whose 1,000 training labels" in text and "(a sample of 100 items per seed)" in text
    assert conclusions.check_text(text, [claim]) == []


def test_the_nli_sentences_recompute_from_committed_scores():
    """The ChaosNLI sentence uses only figures the GPU run's committed ``scores.parquet`` recomputes (real data),
    and its pooled clause reads ``results/nli/pooled.csv`` (the NLI page's runs, ``nlpdiff_study.nli``)."""
    import os

    from nlpdiff_study import nli

    claims = {c.analysis: c for c in conclusions.answer(ROOT / "results")[0]}
    one = claims["Human disagreement (NLI)"]
    assert one.equivalence == (pd.read_csv(ROOT / "results/nli/pooled.csv")["verdict"] == "equivalent").any()
    assert "pooled over the NLI chapter's" in one.render()
    data = os.environ.get("NLPDIFF_DATA_DIR")
    if not data or not (Path(data) / "chaosnli_snli").exists():
        pytest.skip("set NLPDIFF_DATA_DIR to the real data (../shared/data) to recompute the ChaosNLI figures")
    run = ROOT / "results/gpu/snli_chaos/snli_clean"
    samples = nli.with_chaos_columns(pd.read_parquet(run / "samples.parquet"))
    table = nli.chaosnli_table(pd.read_parquet(run / "scores.parquet"), nli.chaosnli_signals(samples), n_boot=0)
    act = table.set_index("score").loc["action"]
    for slot, value in (("rho", act["spearman_entropy"]), ("auc", act["roc_auc"])):
        assert one.slots[slot].text() == f"{value:.3f}", slot
