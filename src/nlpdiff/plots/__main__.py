"""``python -m nlpdiff.plots [PATH]``: write the offline Vega bundle a book ships (after upgrading Altair or
vl-convert-python); PATH defaults to ``book/_static/nlpdiff-vega.js`` under the current folder (run it from
the root of the study's repository)."""

import sys

from nlpdiff.plots.render import write_vega_bundle

if __name__ == "__main__":  # pragma: no cover
    print(write_vega_bundle(sys.argv[1] if len(sys.argv) > 1 else None))
