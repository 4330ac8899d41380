"""The result pages' table helper (nlpdiff_study.pages)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlpdiff_study import pages


def test_numbers_have_fixed_decimals_and_no_negative_zero():
    assert pages.format_number(-0.0004, 3) == "0.000"
    assert pages.format_number(-0.0004, 2) == "0.00"
    assert pages.format_number(-0.004, 2) == "0.00"
    assert pages.format_number(-0.006, 2) == "-0.01"
    assert pages.format_number(-0.0001, 3, signed=True) == "+0.000"
    assert pages.format_number(0.0123, 3, signed=True) == "+0.012"
    assert pages.format_number(0.5, 3) == "0.500"
    assert pages.format_number(12345, 3) == "12,345"
    assert pages.format_number(float("nan")) == pages.DASH
    assert pages.format_number(None) == pages.DASH


def test_table_has_no_index_a_dash_with_its_reason_and_whole_texts():
    text = "a long sentence that a pandas table would cut with an ellipsis " * 3
    df = pd.DataFrame({"source": [text, "short"], "roc_auc": [0.51234, np.nan], "n": [3, 10]},
                      index=pd.Index([7, 8]))
    out = pages.table(df, missing="the part has no held-out split")
    html = out._repr_html_()
    assert "NaN" not in html and "nan" not in html.lower().replace("nlpdiff", "")
    assert ">7<" not in html and ">8<" not in html  # no index column
    assert text.strip() in html.replace("&#x27;", "'")  # whole, no ellipsis
    assert "…" not in html and "..." not in html
    assert "0.512" in html and f">{pages.DASH}<" in html
    assert f"{pages.DASH} : the part has no held-out split" in html
    assert "overflow-x:auto" in html  # its own scrolling box
    assert "0.512" in repr(out) and "NaN" not in repr(out)


def test_table_without_missing_values_has_no_note_and_keeps_a_named_index():
    df = pd.DataFrame({"v": [-0.0001, 1.23456]}, index=pd.Index(["a", "b"], name="score"))
    html = pages.table(df, decimals=2)._repr_html_()
    assert ">score<" in html and ">a<" in html
    assert "-0.00" not in html and ">0.00<" in html and ">1.23<" in html
    assert "nlpdiff-table-note" not in html


def test_probability_interval_bounds_are_cut_to_0_and_1_and_said_so():
    df = pd.DataFrame({"roc_auc_mean": [0.97], "roc_auc_lo": [0.90], "roc_auc_hi": [1.043],
                       "diff_hi": [1.5]})
    html = pages.table(df)._repr_html_()
    assert "1.043" not in html and ">1.000<" in html
    assert ">1.500<" in html  # a difference is not a probability: left alone
    assert "shown cut to 0 or 1" in html


def test_bullets_and_finding_are_markdown():
    md = pages.bullets(["one", "", "two"], lead="Lead.")
    assert md._repr_markdown_() == "Lead.\n\n- one\n- two"
    assert pages.finding(" A. ")._repr_markdown_() == "A."


def test_p_values_never_print_as_zero():
    html = pages.table(pd.DataFrame({"p_holm": [0.00001, 0.0412], "delong_p_min": [0.2, np.nan]}))._repr_html_()
    assert "&lt; 0.001" in html and ">0.041<" in html and ">0.200<" in html and "0.000" not in html
