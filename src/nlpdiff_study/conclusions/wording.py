"""Reading the committed tables and wording what they say, shared by the answer's sentences
(:mod:`.claims`, :mod:`.uses`): a correlation's strength in words, one row of a table, a pooled
comparison's clauses, verdicts, lists."""

from pathlib import Path
from typing import Mapping

import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff_study.conclusions.claim import Figure, Name


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



def _pooled_clauses(pooled: pd.DataFrame, src: str, slots: dict, prefix: str = "") -> list[str]:
    """One clause per baseline of a pooled comparison (:func:`nlpdiff_study.comparisons.pooled_detection` or the
    NLI page's): the baseline, the estimate, its interval and the verdict's words, the minimum detectable
    difference where not shown to differ, and the cell count where a baseline was computed in fewer cells. Adds
    the slots to ``slots`` under ``prefix`` (verdicts as ``v<prefix><i>``, which :func:`_says_equivalent` reads)."""
    parts = []
    for i, r in enumerate(pooled.to_dict("records")):
        k = f"{prefix}{i}"
        slots.update({f"b{k}": Name(r["baseline"], src), f"d{k}": Figure(r["estimate"], src),
                      f"lo{k}": Figure(r["low"], src), f"hi{k}": Figure(r["high"], src),
                      f"v{k}": Name(_verdict_words(r["verdict"]), src)})
        text = f"{{b{k}}} {{d{k}}} ({{lo{k}}} to {{hi{k}}}, {{v{k}}}"
        if r["verdict"] == "not shown to differ":
            slots[f"mdd{k}"] = Figure(r["mdd"], src)
            text += f"; minimum detectable difference {{mdd{k}}}"
        if r["n_cells"] < pooled["n_cells"].max():
            slots[f"c{k}"] = Figure(r["n_cells"], src, 0)
            text += f"; only the {{c{k}}} cells that computed it"
        parts.append(text + ")")
    return parts



def _verdict_words(verdict: str) -> str:
    return {"better": "higher", "worse": "lower", "equivalent": "equivalent within the margin",
            "not shown to differ": "not shown to differ"}[verdict]



def _says_equivalent(slots: dict) -> bool:
    """Whether a verdict slot (``v0``, ``v1``, ...: :func:`_verdict_words`) of a claim says "equivalent"."""
    return any(v.value.startswith("equivalent") for k, v in slots.items() if k.startswith("v"))



def _and(words) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]

