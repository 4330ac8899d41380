"""``python -m nlpdiff.scores [ROOT]``: rewrite the book's score table (``book/score_table.md``)."""

import sys

from nlpdiff.scores.table import write_score_table

print(write_score_table(sys.argv[1] if len(sys.argv) > 1 else "."))
