"""A claim: one sentence of the answer, a template with named slots filled by figures read from tables, and
the checks that keep typed numbers and unsupported "no difference" wording out of it."""


import re
from dataclasses import dataclass, field

import numpy as np

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
    pvalue: bool = False

    def text(self) -> str:
        if self.value is None or not np.isfinite(self.value):
            return "n/a"
        if self.pvalue:  # a p value: three decimals, "< 0.001" below
            return "< 0.001" if self.value < 0.001 else f"{self.value:.3f}"
        value = 100 * self.value if self.percent else self.value
        if round(value, self.digits) == 0:
            value = 0.0  # never "-0.000"
        if self.percent:
            return f"{value:.{self.digits}f} %"
        if self.digits == 0:
            return f"{int(round(value)):,}"
        return f"{value:.{self.digits}f}"


@dataclass(frozen=True)
class Name:
    """A word for a slot, read from a table (a score's or a method's name)."""

    value: str
    source: str

    def text(self) -> str:
        return f"`{self.value}`" if "_" in self.value else self.value


@dataclass
class Claim:
    """One sentence of the answer: ``template`` with ``{slot}`` fields filled from ``slots``.

    ``test``, ``family`` and ``margin`` say which statistical test the sentence rests on, over which
    family its p values are adjusted and at which equivalence margin (declared in Methods,
    :mod:`nlpdiff_study.comparisons`) a "no difference" would be judged; ``equivalence`` is True when
    the sentence rests on an equivalence test (:func:`check_statistics`)."""

    analysis: str
    template: str
    slots: dict[str, Figure | Name] = field(default_factory=dict)
    test: str = ""
    family: str = ""
    margin: str = ""
    equivalence: bool = False

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


#: Wording that claims the absence of a difference: allowed only in a sentence resting on an equivalence test.
NO_DIFFERENCE_WORDING = ("no better", "no worse", "no difference", "never significantly different", "does not help",
                         "not different", "the same as", "as good as")


def check_statistics(claim: Claim) -> None:
    """Raise unless the claim names its test, family and margin, and says "no difference" only with an
    equivalence result behind it (otherwise it must say "not shown to differ" and give the minimum
    detectable difference)."""
    for what in ("test", "family", "margin"):
        if not getattr(claim, what).strip():
            raise ParameterError(f"{claim.analysis}.{what}", getattr(claim, what), "the test, family and margin it rests on")
    text = claim.render().lower()
    said = [w for w in NO_DIFFERENCE_WORDING if w in text]
    if said and not claim.equivalence:
        raise ParameterError(f"{claim.analysis}", said, "no 'no difference' wording without an equivalence test")


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
