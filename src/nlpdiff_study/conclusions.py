"""The study's answer, written from committed result tables: prose whose every number is read, not typed.

A :class:`Claim` is one sentence of the answer: a template with named slots and, for each slot, a
:class:`Figure` (a number read from a table under ``results/``) or a :class:`Name` (a word read
from one, e.g. the best baseline's name). Templates carry no digits of their own
(:func:`check_template`), and :func:`numbers_in` lets a test check that every number on the
rendered page is one of the figures read (:func:`check_text`). The conclusions page and the first
page of the book (through a glued value) show :func:`render` of :func:`answer`.

The tables come from the parts of the study that commit their summaries: ``results/gpu/``
(fine-tuned runs on a GPU), ``results/mislabel/``, ``results/curriculum/`` and ``results/nli/``
when present. A claim whose table is missing is skipped (:func:`answer` says which), so the page
always builds and never shows a stale number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from nlpdiff import stats
from nlpdiff.errors import ParameterError

#: Digits allowed inside a template: parts of proper names and the confidence level, not results.
NAME_TOKENS = ("95 %", "SST-2", "SmolLM2-135M", "all-MiniLM-L6-v2", "MiniLM-L6", "H200")
#: How a task of the result tables is named in prose.
TASK_NAMES = {"sst2": "SST-2", "snli": "SNLI", "snli_chaos": "SNLI", "snli_chaosnli": "SNLI", "imdb": "IMDB",
              "squad": "SQuAD"}
_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:[.,]\d+)*(?:\.\d+)?")


@dataclass(frozen=True)
class Figure:
    """A number for a slot: ``value`` as read, and how it is shown (``digits``, ``percent``)."""

    value: float
    source: str
    digits: int = 3
    percent: bool = False

    def text(self) -> str:
        if self.value is None or not np.isfinite(self.value):
            return "n/a"
        if self.percent:
            return f"{100 * self.value:.{self.digits}f} %"
        if self.digits == 0:
            return f"{int(round(self.value)):,}"
        return f"{self.value:.{self.digits}f}"


@dataclass(frozen=True)
class Name:
    """A word for a slot, read from a table (a score's or a method's name)."""

    value: str
    source: str

    def text(self) -> str:
        return f"`{self.value}`" if "_" in self.value else self.value


@dataclass
class Claim:
    """One sentence of the answer: ``template`` with ``{slot}`` fields filled from ``slots``."""

    analysis: str
    template: str
    slots: dict[str, Figure | Name] = field(default_factory=dict)

    def render(self) -> str:
        return self.template.format(**{k: v.text() for k, v in self.slots.items()})

    def figures(self) -> list[str]:
        return [v.text() for v in self.slots.values() if isinstance(v, Figure)]


def check_template(template: str) -> None:
    """Raise if ``template`` contains a digit outside the slots and :data:`NAME_TOKENS`."""
    bare = re.sub(r"\{[^}]*\}", "", template)
    for token in NAME_TOKENS:
        bare = bare.replace(token, "")
    digits = re.findall(r"\d+", bare)
    if digits:
        raise ParameterError("template", template, f"prose without typed numbers (found {digits}); use a slot")


def numbers_in(text: str) -> list[str]:
    """The numbers written in ``text`` (``0.92``, ``1,507``, ``10 %`` -> ``10``), outside name tokens."""
    for token in NAME_TOKENS:
        text = text.replace(token, " ")
    text = re.sub(r"\[[^\]]*\]\([^)]*\)", " ", text)  # markdown link targets
    return [m.group(0).replace("−", "-").lstrip("+") for m in _NUMBER.finditer(text)]


def check_text(text: str, claims: list[Claim]) -> list[str]:
    """Numbers in ``text`` that no claim read from a table (an empty list means every number is read)."""
    allowed: set[str] = set()
    for c in claims:
        for f in c.figures():
            allowed.update(numbers_in(f))
    return [n for n in numbers_in(text) if n not in allowed]


def render(claims: list[Claim]) -> str:
    """The answer as a Markdown list: one sentence per analysis, led by the analysis in bold."""
    return "\n".join(f"- **{c.analysis}.** {c.render()}" for c in claims)


# ----------------------------------------------------------------------------------------- readers

#: The action score and its variants (the mean loss is the plain action score divided by the number of
#: checkpoints when every sample shares them); "the best other score" is chosen outside this family.
ACTION_FAMILY = ("action", "mean_loss", "action_train", "action_trapezoid", "action_train_trapezoid", "early_action")


def not_baselines() -> tuple[str, ...]:
    """Scores never chosen as "the best other score": the action family and the scores that are not on the
    difficulty axis (cartography variability measures ambiguity, see ``nlpdiff.scores.AXES``)."""
    from nlpdiff import scores

    return ACTION_FAMILY + tuple(s for s in scores.SCORES if scores.score_axis(s) != "difficulty")


def strength(rho: float) -> str:
    """A word for the size of a rank correlation (|rho| < 0.3 weak, < 0.5 moderate, else strong)."""
    r = abs(rho)
    return "weakly" if r < 0.3 else "moderately" if r < 0.5 else "strongly"


def _one(df: pd.DataFrame, where: Mapping[str, object], source: str) -> pd.Series:
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v]
    if len(sel) != 1:
        raise ParameterError("where", dict(where), f"a filter selecting one row of {source} (got {len(sel)})")
    return sel.iloc[0]


def _read(root: Path, rel: str) -> pd.DataFrame | None:
    path = root / rel
    return pd.read_csv(path) if path.is_file() else None


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
    src = f"{rel} ({task}, noise {noise_rate} {noise_type})"
    mean_loss = _one(cells, {**where, "score": "mean_loss"}, rel)
    same = np.isclose(mean_loss.roc_auc_mean, act.roc_auc_mean, rtol=0, atol=1e-12)
    return Claim(
        "Finding flipped labels",
        "With {rate} of the {task} training labels flipped at random, the action score of a "
        "fine-tuned MiniLM ranks the flipped samples first with ROC AUC {auc} (95 % interval over {n} seeds "
        "{lo} to {hi}; chance {chance}), {same} the mean loss it is a multiple of; the best other score, "
        "{best}, reaches {best_auc} (paired difference over seeds {diff}, p = {p}).",
        {"rate": Figure(noise_rate, src, 0, percent=True), "task": Name(TASK_NAMES.get(task, task), src),
         "auc": Figure(act.roc_auc_mean, src), "n": Figure(act.n_seeds, src, 0),
         "lo": Figure(act.roc_auc_lo, src), "hi": Figure(act.roc_auc_hi, src),
         "chance": Figure(act.chance_roc_auc, src, 1), "best": Name(best.score, src),
         "same": Name("exactly as" if same else "unlike", src),
         "p": Figure(test["p"], src, 2),
         "best_auc": Figure(best.roc_auc_mean, src), "diff": Figure(test["mean_diff"], src)},
    )


def chaosnli_claim(root: Path) -> Claim | None:
    """SNLI pairs with 100 crowd labels (ChaosNLI): Spearman of the action score with their entropy and
    its AUROC at ranking the pairs whose gold label differs from the majority of 100 first."""
    rel = "gpu/summary_snli_chaosnli.csv"
    df = _read(root, rel)
    if df is None:
        return None
    act = _one(df, {"score": "action"}, rel)
    ent = _one(df, {"score": "mean_entropy"}, rel)
    return Claim(
        "Human disagreement (NLI)",
        "On the {n} SNLI pairs that ChaosNLI had relabelled by a hundred annotators, the action "
        "score of a fine-tuned MiniLM correlates {strength} with their disagreement (Spearman {rho}, 95 % interval "
        "{lo} to {hi}; predictive entropy {rho_ent}, paired bootstrap interval of entropy minus action {dlo} to "
        "{dhi}) and ranks the {k} pairs whose gold label differs from the "
        "annotators' majority first at ROC AUC {auc} (chance {chance}).",
        {"n": Figure(act.n_pairs, rel, 0), "rho": Figure(act.spearman_entropy, rel),
         "strength": Name(strength(act.spearman_entropy), rel),
         "dlo": Figure(ent.spearman_entropy_minus_action_lo, rel), "dhi": Figure(ent.spearman_entropy_minus_action_hi, rel),
         "lo": Figure(act.spearman_entropy_lo, rel), "hi": Figure(act.spearman_entropy_hi, rel),
         "rho_ent": Figure(ent.spearman_entropy, rel), "k": Figure(act.n_gold_differs, rel, 0),
         "auc": Figure(act.roc_auc, rel), "chance": Figure(act.chance_roc_auc, rel, 1)},
    )


def grid_claim(root: Path) -> Claim | None:
    """The whole mislabel-detection grid (cheap backbones from ``results/mislabel/``, fine-tuned from
    ``results/gpu/``): the action score against each cell's best other score, and against the last loss."""
    from nlpdiff_study import mislabel

    labels, _ = mislabel.grid_summaries(mislabel.load_results(root / "mislabel"))  # flipped labels only
    gpu = mislabel.gpu_summary(root / "gpu")
    frames = [g for g in (labels, gpu) if len(g)]
    if not len(labels) or not frames:
        return None
    everything = pd.concat(frames, ignore_index=True)
    tests = mislabel.paired_tests(everything)
    act = tests[tests["score"] == "action"]
    sig = act["p_holm"] < 0.05
    better, worse = int((sig & (act["diff"] > 0)).sum()), int((sig & (act["diff"] < 0)).sum())
    cells = mislabel.cells(everything)
    key = [c for c in ("part", "length", "noise_rate", "noise_type") if c in cells.columns]
    fin = cells.pivot_table(index=key, columns="score", values="roc_auc_mean")
    mem = cells[cells["score"] == "action"].set_index(key)
    gain = (fin["action"] - fin["final_loss"]).dropna()
    memorised_ft = mem.reindex(gain.index)
    ft = (memorised_ft["backbone"] == "finetune") & (memorised_ft["final_train_acc_corrupted_mean"] > 0.5)
    src = "mislabel/*/summary.csv + gpu/summary_detection.csv"
    return Claim(
        "Across the label-noise grid",
        "Over the whole label-noise grid ({n} cells of task, backbone, training length, noise rate and type), the "
        "action score's ROC AUC minus that of the cell's best other score runs from {lo} to {hi}, {verdict} after "
        "the Holm correction ({better} cells better, {worse} worse); it clearly beats the loss at the last "
        "checkpoint only where a fine-tuned model memorises the flipped labels (median gain {gain} over {k} cells).",
        {"n": Figure(len(act), src, 0), "lo": Figure(act["diff"].min(), src), "hi": Figure(act["diff"].max(), src),
         "verdict": Name("never significantly different" if better == worse == 0 else "with a mixed record", src),
         "better": Figure(better, src, 0), "worse": Figure(worse, src, 0),
         "gain": Figure(float(gain[ft.to_numpy()].median()) if ft.any() else float("nan"), src),
         "k": Figure(int(ft.sum()), src, 0)},
    )


def _and(words) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


def curriculum_claim(root: Path) -> Claim | None:
    """Curricula ordered by the action score of a separate scoring run, against shuffled training and
    against the same pacing with a random order (Wu et al.), final held-out accuracy, Holm per part."""
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
    # Holm within each part's whole test table, as on the curriculum page; then the settings that learn
    tests = pd.concat([cur.paired_tests(g) for _, g in tables["runs"].groupby("part", sort=False)],
                      ignore_index=True).merge(keep, on=cur.SETTING)
    act = cur.action_verdict(tests)["rows"]  # the action order on each pacing schedule, final held-out metric
    vs_shuf = act[act["against"] == "shuffled"]
    vs_rand = act[act["against"] == "random order, same pacing"]
    sig = lambda d: int(((d["p_holm"] < 0.05) & (d["mean_diff"] > 0)).sum())  # noqa: E731
    src = "curriculum/*/runs.csv"
    return Claim(
        "Curriculum",
        "Ordering the training data easy-to-hard by the action score of a separate scoring run "
        "changes the final held-out accuracy against ordinary shuffled training by {slo} to {shi} points "
        "({ssig} of {sn} comparisons significantly better after Holm) and against the same pacing with a random "
        "order by {rlo} to {rhi} points ({rsig} of {rn}), on {tasks} with the {backbones} backbones over "
        + ("{seeds} seeds" if act["n"].min() == act["n"].max() else "{seeds} to {seeds_max} seeds")
        + " (the settings whose model learns the task).",
        {"slo": Figure(100 * vs_shuf["mean_diff"].min(), src, 1), "shi": Figure(100 * vs_shuf["mean_diff"].max(), src, 1),
         "ssig": Figure(sig(vs_shuf), src, 0), "sn": Figure(len(vs_shuf), src, 0),
         "rlo": Figure(100 * vs_rand["mean_diff"].min(), src, 1), "rhi": Figure(100 * vs_rand["mean_diff"].max(), src, 1),
         "rsig": Figure(sig(vs_rand), src, 0), "rn": Figure(len(vs_rand), src, 0),
         "seeds": Figure(int(act["n"].min()), src, 0), "seeds_max": Figure(int(act["n"].max()), src, 0),
         "tasks": Name(_and(TASK_NAMES.get(t, t) for t in dict.fromkeys(runs["task"])), src),
         "backbones": Name(_and(dict.fromkeys(runs["backbone"])), src)},
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
    )


#: The answer's sentences in order; each returns None when its table is not committed.
CLAIMS: list[Callable[[Path], Claim | None]] = [detection_claim, grid_claim, chaosnli_claim, reading_claim,
                                                curriculum_claim]


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
        claims.append(c)
    return claims, skipped
