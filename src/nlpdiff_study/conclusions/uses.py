"""The answer's sentences on the uses and reach of the score, each read from the committed tables under
``results/``: the curriculum, the blind readings (not in the answer) and the second model size."""

from pathlib import Path


from nlpdiff import stats
from nlpdiff_study.conclusions.claim import TASK_NAMES, Claim, Figure, Name
from nlpdiff_study.conclusions.wording import _and, _says_equivalent, _verdict_words


def curriculum_claim(root: Path) -> Claim | None:
    """Curricula ordered by the action score of a separate scoring run, against shuffled training and
    against the same pacing with a random order (Wu et al.), on the final held-out accuracy and on the
    area under the learning curve, pooled over the settings that learn, their schedules and seeds."""
    from nlpdiff_study import comparisons
    from nlpdiff_study import curriculum as cur

    folder = root / "curriculum"
    if not folder.is_dir():
        return None
    parts = sorted(p.name for p in folder.iterdir() if (p / "runs.csv").exists() and not p.name.endswith("_cpu"))
    if not parts:
        return None
    tables = cur.load_results(folder, parts)
    ok = cur.settings_that_learn(tables["runs"], tables["scoring"])  # settings whose model learns the task
    keep = ok[ok["learns"]][cur.SETTING]
    runs = tables["runs"].merge(keep, on=cur.SETTING)
    if runs.empty:
        return None
    results = {(against, m): comparisons.pooled_curriculum(runs, against, m)
               for against in ("shuffled", "random") for m in ("final", "aulc")}
    p_holm = stats.holm([r["p"] for r in results.values()])
    p_eq_holm = stats.holm([r["p_equivalence"] for r in results.values()])
    src = "curriculum/*/runs.csv (nlpdiff_study.comparisons.pooled_curriculum)"
    slots = {"tasks": Name(_and(TASK_NAMES.get(t, t) for t in dict.fromkeys(runs["task"])), src),
             "backbones": Name(_and(dict.fromkeys(runs["backbone"])), src),
             "n": Figure(results[("shuffled", "final")]["n_clusters"], src, 0),
             "m": Figure(results[("shuffled", "final")]["n_units"], src, 0),
             "margin": Figure(100 * comparisons.MARGIN_ACCURACY, src, 0)}
    words = {}
    for i, ((against, m), r) in enumerate(results.items()):
        verdict = stats.equivalence_verdict(r, comparisons.MARGIN_ACCURACY, p_difference=p_holm[i],
                                            p_equivalence=p_eq_holm[i])
        slots.update({f"d{i}": Figure(100 * r["estimate"], src, 1), f"lo{i}": Figure(100 * r["low"], src, 1),
                      f"hi{i}": Figure(100 * r["high"], src, 1), f"v{i}": Name(_verdict_words(verdict), src)})
        text = f"{{d{i}}} points ({{lo{i}}} to {{hi{i}}}, {{v{i}}}"
        if verdict == "not shown to differ":
            slots[f"mdd{i}"] = Figure(100 * r["mdd"], src, 1)
            text += f"; minimum detectable difference {{mdd{i}}} points"
        words[(against, m)] = text + ")"
    return Claim(
        "Curriculum",
        "Ordering the training data easy-to-hard by the action score of a separate scoring run, pooled over the "
        "{n} settings and schedules whose model learns the task ({tasks}, {backbones} backbones; {m} seeded "
        "pairs), changes the final held-out accuracy against ordinary shuffled training by "
        + words[("shuffled", "final")] + " and against the same pacing with a random order by "
        + words[("random", "final")] + "; on the area under the learning curve, by "
        + words[("shuffled", "aulc")] + " and " + words[("random", "aulc")]
        + " (95 % cluster-bootstrap intervals; Holm over these four comparisons; equivalence margin {margin} point).",
        slots,
        test="two-stage cluster bootstrap over (setting, schedule) cells and seeds of the paired differences; "
             "two one-sided tests for equivalence",
        family="the four curriculum comparisons (two controls x final accuracy and area under the curve; Holm)",
        margin=f"{comparisons.MARGIN_ACCURACY} accuracy (one point)",
        equivalence=_says_equivalent(slots),
    )



def reading_claim(root: Path) -> Claim | None:
    """Blind readings of the action score's top suspects in clean data against random samples
    (``results/readings/``, :func:`nlpdiff_study.mislabel.load_reading`): how many of each group one
    reader judged mislabelled."""
    from nlpdiff_study import mislabel

    folder = root / "readings"
    names = sorted(p.name for p in folder.glob("*/") if (p / "key.csv").exists()) if folder.is_dir() else []
    parts, slots, better = [], {}, []
    for i, name in enumerate(names):
        r = mislabel.load_reading(folder / name)
        if float(r["info"]["params"].get("noise_rate") or 0) > 0:
            continue  # a reading of injected noise is checked against the truth, not read
        summ = r["summary"].set_index("group")
        if not int(summ["read"].min()):
            continue
        src = f"readings/{name}/sheet.csv + key.csv"
        t, rnd = summ.loc["top"], summ.loc["random"]
        better.append(bool(t["fisher_p"] < 0.05 and t["share_mislabelled"] > rnd["share_mislabelled"]))
        task = r["info"]["params"]["task"]
        parts.append(f"{{k{i}}} of its {{n{i}}} top suspects in {{task{i}}} looked mislabelled, against {{r{i}}} of "
                     f"{{m{i}}} random samples (Fisher's exact test p {{p{i}}}; mislabelled or ambiguous {{a{i}}} "
                     f"against {{b{i}}}, p {{q{i}}})")
        slots.update({f"k{i}": Figure(t["mislabelled"], src, 0), f"n{i}": Figure(t["read"], src, 0),
                      f"task{i}": Name(TASK_NAMES.get(task, task), src),
                      f"r{i}": Figure(rnd["mislabelled"], src, 0), f"m{i}": Figure(rnd["read"], src, 0),
                      f"p{i}": Figure(t["fisher_p"], src, 2), f"a{i}": Figure(t["not_correct"], src, 0),
                      f"b{i}": Figure(rnd["not_correct"], src, 0), f"q{i}": Figure(t["fisher_p_not_correct"], src, 2)})
    if not parts:
        return None
    verdict = ("finds more real label errors than random samples do" if all(better) else
               "does not find more real label errors than random samples do" if not any(better) else
               "finds more real label errors than random samples in some data sets only")
    slots["verdict"] = Name(verdict, "readings/*: Fisher's exact test p < 0.05 and a larger share")
    return Claim(
        "Reading the suspects",
        "Read blind by one reader beside random samples of the same clean data, the action score's audit list "
        "{verdict}: " + "; ".join(parts) + ".",
        slots,
        test="Fisher's exact test, top suspects against random samples",
        family="one test per data set, not adjusted",
        margin="none: no equivalence is claimed",
    )



def model_size_claim(root: Path) -> Claim | None:
    """Two model sizes (``results/model_size/``, :mod:`nlpdiff_study.model_size`): the action score's ROC
    AUC with MPNet-base minus with MiniLM, paired by seed on the same samples, with its verdict at the
    declared margin, and the rank agreement across sizes against across seeds, per computed part."""
    from nlpdiff_study import comparisons, model_size

    folder = root / "model_size"
    names = [n for n in ("sst2", "noisy_agnews") if (folder / n / "agreement.csv").is_file()]
    if not names:
        return None
    settings = {"sst2": "SST-2 with flipped labels", "noisy_agnews": "NoisyAG-News's real errors"}
    slots: dict = {}
    texts = []
    for i, name in enumerate(names):
        t = model_size.load_part(name, folder)
        if not {"minilm", "mpnet"} <= set(t["summary"]["model"]):
            continue
        src = f"model_size/{name}/*/summary.csv + agreement.csv (nlpdiff_study.model_size)"
        d = model_size.paired_detection(t["summary"], "minilm", "mpnet", scores=["action"])
        if d.empty:
            continue
        d = d.iloc[0]
        g = model_size.agreement_summary(t["agreement"]).set_index("score").loc["action"]
        a = t["summary"][t["summary"]["score"] == "action"]
        slots.update({f"s{i}": Name(settings.get(name, name), src), f"n{i}": Figure(int(a["n"].iloc[0]), src, 0),
                      f"small{i}": Figure(a[a["model"] == "minilm"]["roc_auc"].mean(), src),
                      f"large{i}": Figure(a[a["model"] == "mpnet"]["roc_auc"].mean(), src),
                      f"d{i}": Figure(d["difference"], src), f"lo{i}": Figure(d["lo"], src),
                      f"hi{i}": Figure(d["hi"], src), f"v{i}": Name(_verdict_words(d["verdict"]), src),
                      f"across{i}": Figure(g["across"], src, 2), f"within{i}": Figure(g["within"], src, 2),
                      f"seeds{i}": Figure(int(d["seeds"]), src, 0)})
        text = (f"on {{s{i}}} ({{n{i}}} samples, {{seeds{i}}} seeds) {{small{i}}} with MiniLM and {{large{i}}} with "
                f"MPNet-base, a paired difference of {{d{i}}} ({{lo{i}}} to {{hi{i}}}, {{v{i}}}")
        if d["verdict"] == "not shown to differ":
            slots[f"mdd{i}"] = Figure(d["mdd"], src)
            text += f"; minimum detectable difference {{mdd{i}}}"
        text += (f"), and its ranking agrees across the two sizes at Spearman {{across{i}}} against {{within{i}}} "
                 f"between seeds of one size")
        texts.append(text)
    if not texts:
        return None
    return Claim(
        "A larger model",
        "Fine-tuned with the same recipe at two sizes (MiniLM, and MPNet-base with about five times the "
        "parameters), the action score's ROC AUC is " + "; ".join(texts) + ".",
        slots,
        test="paired t test over seeds (same samples and labels at both sizes); two one-sided tests (the 90 % t "
             "interval) for equivalence; Spearman between runs",
        family="one declared comparison per setting (params/grids/model_size.yaml), not adjusted",
        margin=f"{comparisons.MARGIN_AUC} ROC AUC",
        equivalence=_says_equivalent(slots),
    )

