"""``python -m nlpdiff.plots``: write the offline Vega bundle the book ships (after upgrading Altair or
vl-convert-python)."""

from nlpdiff.plots.render import write_vega_bundle

if __name__ == "__main__":  # pragma: no cover
    print(write_vega_bundle())
