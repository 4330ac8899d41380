"""``python -m nlpdiff_study.nli RUN_DIR [--out results/nli]``: :func:`nlpdiff_study.nli.summary.main`."""

from nlpdiff_study.nli.summary import main

if __name__ == "__main__":
    main()
