"""The answer's sentences, each read from the committed tables under ``results/`` (:data:`CLAIMS`,
:func:`answer`)."""


import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from nlpdiff import stats
from nlpdiff_study.comparisons import action_family, not_baselines
from nlpdiff_study.conclusions.claim import TASK_NAMES, Claim, Figure, Name, check_statistics, check_template
from nlpdiff_study.conclusions.uses import curriculum_claim, model_size_claim
from nlpdiff_study.conclusions.wording import _one, _pooled_clauses, _read, _says_equivalent, strength

#: The action score and its variants (one definition, in :mod:`nlpdiff_study.comparisons`, read from the score
#: registry's families); :func:`not_baselines` are the scores never chosen as "the best other score".
ACTION_FAMILY = action_family()


def detection_claim(root: Path, task: str = "sst2", noise_rate: float = 0.1,
                    noise_type: str = "uniform") -> Claim | None:
    """Fine-tuned MiniLM (GPU grid): the action score's AUROC at finding flipped labels, with its seed
    interval, against the best score outside the action family and a paired test over seeds."""
    rel = "gpu/summary_detection_cells.csv"
    cells, runs = _read(root, rel), _read(root, "gpu/summary_detection.csv")
    if cells is None or runs is None:
        return None
    where = {"task": task, "noise_rate": noise_rate, "noise_type": noise_type}
    act = _one(cells, {**where, "score": "action"}, rel)
    cell = cells[(cells.task == task) & (cells.noise_rate == noise_rate) & (cells.noise_type == noise_type)]
    others = cell[~cell.score.isin(not_baselines())].sort_values("roc_auc_mean", ascending=False)
    best = others.iloc[0]
    per = runs[(runs.task == task) & (runs.noise_rate == noise_rate) & (runs.noise_type == noise_type)]
    a = per[per.score == "action"].sort_values("seed").roc_auc.to_numpy()
    b = per[per.score == best.score].sort_values("seed").roc_auc.to_numpy()
    test = stats.paired_seed_test(a, b)
    _, lo, hi = stats.bounded_seed_interval(a)  # inside [0, 1] (a t interval over 3 seeds can pass 1)
    src = f"{rel} ({task}, noise {noise_rate} {noise_type})"
    mean_loss = _one(cells, {**where, "score": "mean_loss"}, rel)
    same = np.isclose(mean_loss.roc_auc_mean, act.roc_auc_mean, rtol=0, atol=1e-12)
    return Claim(
        "Finding flipped labels",
        "With {rate} of the {task} training labels flipped at random, the action score of a "
        "fine-tuned MiniLM ranks the flipped samples first with ROC AUC {auc} (95 % interval over {n} seeds "
        "{lo} to {hi}; chance {chance}), {same} the mean loss it is a multiple of; the best other score, "
        "{best}, chosen after the fact (exploratory), reaches {best_auc} (paired difference over seeds {diff}, "
        "p = {p}).",
        {"rate": Figure(noise_rate, src, 0, percent=True), "task": Name(TASK_NAMES.get(task, task), src),
         "auc": Figure(act.roc_auc_mean, src), "n": Figure(act.n_seeds, src, 0),
         "lo": Figure(lo, src), "hi": Figure(hi, src),
         "chance": Figure(act.chance_roc_auc, src, 1), "best": Name(best.score, src),
         "same": Name("exactly as" if same else "unlike", src),
         "p": Figure(test["p"], src, 2),
         "best_auc": Figure(best.roc_auc_mean, src), "diff": Figure(test["mean_diff"], src)},
        test="interval: Student t of the logits over seeds; comparison: paired t test over seeds (exploratory)",
        family="one comparison, not adjusted (exploratory; the declared baselines are pooled in the next sentence)",
        margin="none: no equivalence is claimed",
    )


def chaosnli_claim(root: Path) -> Claim | None:
    """SNLI pairs with 100 crowd labels (ChaosNLI), the fine-tuned GPU run: Spearman of the action score with
    their entropy and its AUROC at ranking the pairs whose gold label differs from the majority of 100 first
    (figures that ``results/gpu/snli_chaos/snli_clean/scores.parquet`` recomputes)."""
    rel = "gpu/summary_snli_chaosnli.csv"
    df = _read(root, rel)
    if df is None:
        return None
    act = _one(df, {"score": "action"}, rel)
    # only what the committed scores of the run recompute (its scores.parquet keeps six columns, no entropy:
    # the comparison with predictive entropy and the other declared baselines is the pooled one)
    from nlpdiff_study import comparisons

    slots: dict = {"n": Figure(act.n_pairs, rel, 0), "rho": Figure(act.spearman_entropy, rel),
                   "strength": Name(strength(act.spearman_entropy), rel),
                   "lo": Figure(act.spearman_entropy_lo, rel), "hi": Figure(act.spearman_entropy_hi, rel),
                   "k": Figure(act.n_gold_differs, rel, 0),
                   "auc": Figure(act.roc_auc, rel), "chance": Figure(act.chance_roc_auc, rel, 1)}
    pooled = _nli_pooled_clause(root, slots)
    return Claim(
        "Human disagreement (NLI)",
        "On the {n} SNLI pairs that ChaosNLI had relabelled by a hundred annotators, the action "
        "score of one fine-tuned MiniLM run (one seed) correlates {strength} with their disagreement (Spearman {rho}, "
        "95 % interval {lo} to {hi}) and ranks the {k} pairs whose gold label differs from the "
        "annotators' majority first at ROC AUC {auc} (chance {chance})" + (f"; {pooled}" if pooled else "") + ".",
        slots,
        test="percentile bootstrap over pairs (Spearman, the one run)"
             + ("; two-stage cluster bootstrap over cells and seeds of the paired differences (same run) and two "
                "one-sided tests for equivalence (pooled)" if pooled else ""),
        family="the one run: a single comparison, not adjusted"
               + ("; pooled: the declared baselines of the human-disagreement question (Holm)" if pooled else ""),
        margin=f"{comparisons.MARGIN_RHO} Spearman's rho (pooled)" if pooled else "none: no equivalence is claimed",
        equivalence=_says_equivalent(slots),
    )


def _nli_pooled_clause(root: Path, slots: dict) -> str:
    """The declared NLI comparison (``results/nli/pooled.csv``, :func:`nlpdiff_study.nli.write_pooled` from the
    NLI page's runs): the action score's Spearman with the ChaosNLI entropy minus each declared baseline's,
    pooled over the page's runs (cells task x backbone, their seeds); adds its slots to ``slots``. Empty
    without the table."""
    rel = "nli/pooled.csv"
    pooled = _read(root, rel)
    runs = _read(root, "nli/runs.csv")
    if pooled is None or runs is None or pooled.empty:
        return ""
    from nlpdiff_study import comparisons

    src = f"{rel} (nlpdiff_study.nli.pooled_agreement)"
    by_backbone = runs.drop_duplicates("run").groupby("backbone")["run"].count()
    slots.update({"pruns": Figure(runs["run"].nunique(), src, 0), "pcells": Figure(int(pooled["n_cells"].max()), src, 0),
                  "pk": Figure(len(pooled), src, 0), "pmargin": Figure(comparisons.MARGIN_RHO, src, 2),
                  "pft": Figure(int(by_backbone.get("finetune", 0)), src, 0)})
    parts = _pooled_clauses(pooled, src, slots, prefix="n")
    return ("pooled over the NLI chapter's {pruns} runs in {pcells} cells (SNLI and MNLI; the probe and scratch "
            "backbones over seeds, and {pft} fine-tuned SNLI run of the chapter's own, not the run above), the action "
            "score's Spearman correlation with the ChaosNLI entropy minus "
            "that of each baseline declared in Methods is " + "; ".join(parts)
            + " (95 % cluster-bootstrap intervals; Holm over the {pk} baselines; equivalence margin {pmargin} in "
            "Spearman's rho, declared after the chapter's per-run tables had been shown)")


def grid_claim(root: Path) -> Claim | None:
    """The whole mislabel-detection grid (cheap backbones from ``results/mislabel/``, fine-tuned from
    ``results/gpu/``): the action score against each pre-declared baseline
    (:data:`nlpdiff_study.comparisons.PRIMARY_BASELINES`), pooled over cells and seeds."""
    from nlpdiff_study import comparisons, mislabel

    labels, _ = mislabel.grid_summaries(mislabel.load_results(root / "mislabel"))  # flipped labels only
    gpu = mislabel.gpu_summary(root / "gpu")
    frames = [g for g in (labels, gpu) if len(g)]
    if not len(labels) or not frames:
        return None
    everything = pd.concat(frames, ignore_index=True)
    pooled = comparisons.pooled_detection(everything)
    if pooled.empty:
        return None
    src = "mislabel/*/summary.csv + gpu/summary_detection.csv (nlpdiff_study.comparisons.pooled_detection)"
    slots: dict = {"n": Figure(int(pooled["n_cells"].max()), src, 0), "m": Figure(int(pooled["n_pairs"].max()), src, 0),
                   "k": Figure(len(pooled), src, 0), "margin": Figure(comparisons.MARGIN_AUC, src, 2)}
    parts = _pooled_clauses(pooled, src, slots)
    per_cell = mislabel.paired_tests(everything)
    act = per_cell[per_cell["score"] == "action"]
    slots.update({"lo": Figure(act["diff"].min(), src), "hi": Figure(act["diff"].max(), src)})
    equivalent = bool((pooled["verdict"] == "equivalent").any())
    return Claim(
        "Across the label-noise grid",
        "Pooled over the {n} cells of the label-noise grid (task, backbone, training length, noise rate and type) "
        "and their {m} seeded runs, the action score's ROC AUC minus that of each baseline declared in Methods is "
        + "; ".join(parts)
        + " (95 % cluster-bootstrap intervals; Holm over the {k} baselines; equivalence margin {margin}); against "
        "the best other score of each cell, chosen after the fact (exploratory), the difference runs from {lo} "
        "to {hi}.",
        slots,
        test="two-stage cluster bootstrap over cells and seeds of the paired differences (same run); two "
             "one-sided tests for equivalence",
        family="the declared baselines of the detection question (Holm)",
        margin=f"{comparisons.MARGIN_AUC} ROC AUC",
        equivalence=equivalent,
    )


def _real_errors_clause(i: int, backbone: str, cells: pd.DataFrame, paired: pd.DataFrame, real_rows: pd.DataFrame,
                        n_full: int, top: pd.DataFrame, src: str, slots: dict) -> tuple[str, str] | None:
    """One backbone's clause of :func:`real_errors_claim` (its slots go into ``slots``, numbered ``i``) and the
    direction of its paired test; None when the backbone has no paired comparison with shaped noise."""
    real = _one(cells, {"backbone": backbone, "noise_type": "real", "score": "action"}, src)
    emp = paired[(paired["backbone"] == backbone) & (paired["score"] == "action") & (paired["against"] == "empirical")]
    if emp.empty:
        return None
    e = emp.iloc[0]
    # the direction is read from the paired test (Holm), never assumed
    direction = ("lower" if e["diff"] < 0 else "higher") if e["p_holm"] < 0.05 else "not shown to differ"
    size = int(real_rows.loc[real_rows["backbone"] == backbone, "n"].max())
    slots.update({f"b{i}": Name(backbone, src), f"auc{i}": Figure(real.roc_auc_mean, src),
                  f"lo{i}": Figure(real.roc_auc_lo, src), f"hi{i}": Figure(real.roc_auc_hi, src),
                  f"syn{i}": Figure(e["roc_auc_synthetic"], src),
                  f"d{i}": Figure(e["diff"], src), f"p{i}": Figure(e["p_holm"], src, pvalue=True),
                  f"n{i}": Figure(real.n_seeds, src, 0), f"dir{i}": Name(direction, src)})
    sample = ""
    if size < n_full:
        slots[f"size{i}"] = Figure(size, src, 0)
        sample = f" (a sample of {{size{i}}} items per seed)"
    cl = cells[(cells["backbone"] == backbone) & (cells["noise_type"] == "real")
               & (cells["score"] == "confident_learning")]
    against_cl = ""
    if len(cl):
        slots.update({f"cl{i}": Figure(cl.iloc[0]["roc_auc_mean"], src), f"ncl{i}": Figure(cl.iloc[0]["n_seeds"], src, 0)})
        against_cl = f"; confident learning with the same backbone and five more trainings: {{cl{i}}} over {{ncl{i}}} seeds"
    text = (f"the {{b{i}}} backbone{sample} ranks them first at ROC AUC {{auc{i}}} ({{lo{i}}} to {{hi{i}}}, "
            f"{{n{i}}} seeds{against_cl}) against {{syn{i}}} on the same texts with synthetic noise shaped like the human "
            f"errors (<dir{i}>paired difference {{d{i}}}, Holm p {{p{i}}})")
    t = top[(top["backbone"] == backbone) & (top["noise_type"] == "real") & (top["top"] == 100)] if len(top) else top
    if len(t):
        slots.update({f"t{i}": Figure(float(t["precision"].mean()), src, 0, percent=True),
                      f"r{i}": Figure(float(t["random_precision"].mean()), src, 0, percent=True)})
        text += f", and {{t{i}}} of its top hundred audit rows are real errors (random rows: {{r{i}}})"
    return text, direction


def real_errors_claim(root: Path) -> Claim | None:
    """Real annotator errors (NoisyAG-News, ``results/mislabel/noisy_agnews_*``): the action score's ROC AUC on
    the human labels' errors, against synthetic noise of the same texts shaped like them (paired over seeds,
    Holm over the table), and the share of real errors among the audit table's top rows."""
    from nlpdiff_study import mislabel

    folder = root / "mislabel"
    parts = sorted(p for p in folder.glob("noisy_agnews_*") if (p / "summary.csv").is_file()) if folder.is_dir() else []
    if not parts:
        return None
    summary = pd.concat([pd.read_csv(p / "summary.csv") for p in parts], ignore_index=True)
    cells = mislabel.cells(summary, by=["part", "backbone", "noise_type"])
    paired = mislabel.real_vs_synthetic(summary, "roc_auc")
    tops = [pd.read_csv(p / "audit_top.csv") for p in parts if (p / "audit_top.csv").is_file()]
    top = pd.concat(tops, ignore_index=True) if tops else pd.DataFrame()
    src = "mislabel/noisy_agnews_*/summary.csv + audit_top.csv"
    slots: dict = {}
    parts_text, directions = [], []
    real_rows = summary[summary["noise_type"] == "real"]
    full = real_rows.sort_values("n").iloc[-1]  # the largest training set: the data set's own size and errors
    for i, backbone in enumerate(dict.fromkeys(summary["backbone"])):
        clause = _real_errors_clause(i, backbone, cells, paired, real_rows, int(full["n"]), top, src, slots)
        if clause is not None:
            parts_text.append(clause[0])
            directions.append(clause[1])
    if not parts_text:
        return None
    slots.update({"n": Figure(int(full["n"]), src, 0), "k": Figure(int(full["n_positive"]), src, 0)})
    lead = {"lower": "finds real errors less well than synthetic ones",
            "higher": "finds real errors better than synthetic ones",
            "not shown to differ": "is not shown to find real errors less well than synthetic ones"}
    mixed = len(set(directions)) > 1  # then each clause says its own direction
    slots["lead"] = Name(lead[directions[0]] if not mixed else
                         "finds real errors less well than synthetic ones with some backbones, not with others", src)
    parts_text = [re.sub(r"<dir(\d+)>", r"{dir\1}: " if mixed else "", t) for t in parts_text]
    imdb = _imdb_clause(root, slots)
    return Claim(
        "Real annotator errors",
        "On NoisyAG-News, whose {n} training labels are the majority of three human annotators and wrong on {k} "
        "of them, the action score {lead}: " + "; ".join(parts_text)
        + (f"; {imdb}" if imdb else "") + ".",
        slots,
        test="paired t test over seeds (real errors against synthetic noise of the same texts); Student t interval "
             "over seeds",
        family="every score and both synthetic noises of the NoisyAG-News parts (Holm)",
        margin="none: no equivalence is claimed",
    )


def _imdb_clause(root: Path, slots: dict) -> str:
    """IMDB's crowd-checked label errors (``results/mislabel/imdb_*/summary.csv``, the candidates subset): the
    action score's ROC AUC among the candidates against the published confident learning's, which chose
    the candidates (a comparison that favours it); adds its slots to ``slots``. Empty without the table."""
    folder = root / "mislabel"
    found = sorted(p for p in folder.glob("imdb_*") if (p / "summary.csv").is_file()) if folder.is_dir() else []
    if not found:
        return ""
    imdb = pd.read_csv(found[0] / "summary.csv")
    imdb = imdb[imdb["subset"] == "candidates"]
    by = imdb.groupby("score")["roc_auc"]
    if not {"action", "published_confident_learning"} <= set(by.groups):
        return ""
    src = f"mislabel/{found[0].name}/summary.csv (subset candidates)"
    m, lo, hi = stats.bounded_seed_interval(by.get_group("action").to_numpy(float))
    first = imdb.iloc[0]
    slots.update({"in": Figure(int(first["n"]), src, 0), "ik": Figure(int(first["n_positive"]), src, 0),
                  "iauc": Figure(m, src), "ilo": Figure(lo, src), "ihi": Figure(hi, src),
                  "iseeds": Figure(imdb["seed"].nunique(), src, 0), "ibb": Name(str(first["backbone"]), src),
                  "itrain": Figure(by.get_group("action_train").mean(), src) if "action_train" in by.groups
                  else Figure(float("nan"), src),
                  "ipub": Figure(by.get_group("published_confident_learning").mean(), src)})
    return ("on IMDB, among the {in} test reviews that a crowd checked ({ik} confirmed wrong), the action score of "
            "the {ibb} backbone reaches ROC AUC {iauc} ({ilo} to {ihi}, {iseeds} seeds; training-pass action "
            "{itrain}) against {ipub} for the published confident-learning probabilities, which chose those "
            "candidates (a comparison that favours them)")


#: The answer's sentences in order; each returns None when its table is not committed.
#: The blind readings (:func:`reading_claim`) are not in the answer: one reader who knew the study read
#: them, not independent annotators; the mislabel chapter shows them as what they are.
CLAIMS: list[Callable[[Path], Claim | None]] = [detection_claim, grid_claim, real_errors_claim, model_size_claim,
                                                chaosnli_claim, curriculum_claim]


def answer(results_root: str | Path = "results") -> tuple[list[Claim], list[str]]:
    """The claims whose tables are committed under ``results_root``, and the names of those skipped."""
    root = Path(results_root)
    claims, skipped = [], []
    for make in CLAIMS:
        c = make(root)
        if c is None:
            skipped.append(make.__name__)
            continue
        check_template(c.template)
        check_statistics(c)
        claims.append(c)
    return claims, skipped
