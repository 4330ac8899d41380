"""The study's datasets (one :class:`TaskSpec` each, collected in :data:`TASKS`) and the registry of users' tasks."""

from __future__ import annotations



from nlpdiff.errors import ParameterError
from nlpdiff.tasks.spec import SENTIMENT_LABELS, TaskSpec  # noqa: F401


_SST_CITATION = (
    "Socher et al., Recursive Deep Models for Semantic Compositionality Over a Sentiment "
    "Treebank, EMNLP 2013; Wang et al., GLUE, ICLR 2019."
)
_IMDB_CITATION = "Maas et al., Learning Word Vectors for Sentiment Analysis, ACL 2011."
_VADER_CITATION = (
    "Hutto and Gilbert, VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social "
    "Media Text, ICWSM 2014."
)
_RATINGS_COLUMNS = ("id", "text", "label", "mean_rating", "rating_std", "ratings")
_NLI_LABELS = ("entailment", "neutral", "contradiction")
_CHAOSNLI_COLUMNS = ("uid", "premise", "hypothesis", "label", "old_labels", "chaos_label", "label_count", "entropy")
_CHAOSNLI_CITATION = (
    "Nie, Zhou and Bansal, What Can We Learn from Collective Human Opinions on Natural Language "
    "Inference Data?, EMNLP 2020."
)
AGNEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")
_NOISY_AGNEWS_COLUMNS = ("text", "label")  # train also has clean_label and source_group
_NOISY_AGNEWS_CITATION = (
    "NoisyAG-News (hhf-hd/NoisyAG-News, MIT): AG-News relabelled by three groups of human annotators; "
    "Zhang, Zhao and LeCun, Character-level Convolutional Networks for Text Classification, NeurIPS 2015 (AG-News)."
)
_NOISY_AGNEWS_OBTAIN = (
    "the GitHub repository hhf-hd/NoisyAG-News (not on the Hugging Face hub), converted to parquet as "
    "<data_dir>/noisy_agnews/train.parquet (text, label, clean_label, source_group) and test.parquet "
    "(text, label)"
)
#: The causal-LM prompt of dialogue summarization (SAMSum).
DIALOGUE_PROMPT = "Summarize the dialogue.\n{document}\nSummary:"
#: The causal-LM prompt of news summarization.
ARTICLE_PROMPT = "Summarize the article.\n{document}\nSummary:"

_SPECS = (
    TaskSpec(
        name="sst2",
        kind="classification",
        roles={"text": "sentence", "label": "label"},
        label_names=SENTIMENT_LABELS,
        hub_id="stanfordnlp/sst2",
        splits=("train", "validation", "test"),
        train_split="train",
        eval_split="validation",
        description=(
            "GLUE SST-2 binary sentence sentiment. The local `test` split carries the gold labels of "
            "the sentence-level SST test set; the hub's test labels are -1 (unlabelled)."
        ),
        license="unknown (GLUE / SST)",
        citation=_SST_CITATION,
        columns=("idx", "sentence", "label"),
        local_rows=(("train", 67349), ("validation", 872), ("test", 1821)),
    ),
    TaskSpec(
        name="imdb",
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=SENTIMENT_LABELS,
        hub_id="stanfordnlp/imdb",
        hub_config="plain_text",
        splits=("train", "test"),
        train_split="train",
        eval_split="test",
        description=(
            "IMDB movie review sentiment (full aclImdb train and test). Local rows carry `id`, the "
            "original file stem; local test rows are in the order of `imdb_label_errors`' "
            "cleanlab arrays. The hub copy has no `id` column and also an `unsupervised` split."
        ),
        license="unknown (aclImdb, research use)",
        citation=_IMDB_CITATION,
        columns=("text", "label"),
        local_rows=(("train", 25000), ("test", 25000)),
    ),
    TaskSpec(
        name="imdb_label_errors",
        kind="classification",
        roles={"label": "given_label"},  # no text: join to `imdb` test on `id`
        label_names=SENTIMENT_LABELS,
        splits=("test",),
        eval_split="test",
        description=(
            "Crowd-verified candidate label errors of the IMDB test split (5 workers each; "
            "votes_guessed >= 3 confirms an error). No text: join to `imdb` test on `id`. "
            "`cleanlab_cv_pred_probs.parquet` (see load_imdb_cleanlab_pred_probs) holds the "
            "cross-validated predicted probabilities for all 25,000 IMDB test rows. Local only: "
            "get the files from https://github.com/cleanlab/label-errors."
        ),
        license="Apache-2.0",
        citation=(
            "Northcutt, Athalye and Mueller, Pervasive Label Errors in Test Sets Destabilize Machine "
            "Learning Benchmarks, NeurIPS Datasets and Benchmarks 2021."
        ),
        columns=(
            "id",
            "given_label",
            "guessed_label",
            "votes_given",
            "votes_guessed",
            "votes_neutral",
            "votes_off_topic",
        ),
        local_rows=(("test", 1310),),
        obtain="the label-errors release of https://github.com/cleanlab/label-errors (IMDB test)",
    ),
    TaskSpec(
        name="squad",
        kind="extractive_qa",
        roles={"question": "question", "context": "context", "answers": "answers"},
        hub_id="rajpurkar/squad",
        hub_config="plain_text",
        splits=("train", "validation"),
        train_split="train",
        eval_split="validation",
        description=(
            "SQuAD v1.1 extractive QA. `answers` is {'text': [...], 'answer_start': [...]}; "
            "validation has all annotator answers. The local train split is a 44-article, "
            "11,877-question subset (Du et al. 2017 held-out split); the hub train has 87,599."
        ),
        license="CC BY-SA 4.0",
        citation=(
            "Rajpurkar et al., SQuAD: 100,000+ Questions for Machine Comprehension of Text, "
            "EMNLP 2016."
        ),
        columns=("id", "title", "context", "question", "answers"),
        local_rows=(("train", 11877), ("validation", 10570)),
    ),
    TaskSpec(
        name="samsum",
        kind="summarization",
        roles={"document": "dialogue", "summary": "summary"},
        prompt=DIALOGUE_PROMPT,
        hub_id="knkarthick/samsum",
        splits=("train", "validation", "test"),
        train_split="train",
        eval_split="validation",
        description="SAMSum dialogue summarization (local train lacks one empty dialogue).",
        license="CC BY-NC-ND 4.0 (research use)",
        citation=(
            "Gliwa et al., SAMSum Corpus: A Human-annotated Dialogue Dataset for Abstractive "
            "Summarization, Workshop on New Frontiers in Summarization 2019."
        ),
        columns=("id", "dialogue", "summary"),
        local_rows=(("train", 14731), ("validation", 818), ("test", 819)),
    ),
    TaskSpec(
        name="cnn_dailymail",
        kind="summarization",
        roles={"document": "article", "summary": "highlights"},
        prompt=ARTICLE_PROMPT,
        hub_id="abisee/cnn_dailymail",
        hub_config="3.0.0",
        splits=("validation",),
        eval_split="validation",
        description=(
            "CNN/DailyMail news summarization. The local copy is the first 1,000 rows of the "
            "validation split; the hub also has train and test."
        ),
        license="Apache-2.0",
        citation=(
            "See et al., Get To The Point: Summarization with Pointer-Generator Networks, ACL 2017; "
            "Hermann et al., NeurIPS 2015."
        ),
        columns=("article", "highlights", "id"),
        local_rows=(("validation", 1000),),
        hub_splits=("train", "validation", "test"),
    ),
    TaskSpec(
        name="xsum",
        kind="summarization",
        roles={"document": "document", "summary": "summary"},
        prompt=ARTICLE_PROMPT,
        hub_id="EdinburghNLP/xsum",
        splits=("test",),
        eval_split="test",
        description=(
            "XSum extreme summarization. The local copy is a 1,000-row sample of the test split; "
            "the hub also has train and validation."
        ),
        license="unknown (BBC articles, research use)",
        citation=(
            "Narayan, Cohen and Lapata, Don't Give Me the Details, Just the Summary!, EMNLP 2018."
        ),
        columns=("document", "summary", "id"),
        local_rows=(("test", 1000),),
        hub_splits=("train", "validation", "test"),
    ),
    TaskSpec(
        name="snli",
        kind="classification",
        roles={"text": "premise", "text_pair": "hypothesis", "label": "label"},
        label_names=("entailment", "neutral", "contradiction"),
        hub_id="stanfordnlp/snli",
        splits=("validation",),
        eval_split="validation",
        description=(
            "SNLI 1.0 natural language inference (premise/hypothesis pairs, 3 classes). The local copy "
            "is the dev split's 9,831 pairs with a gold label (the hub's -1 rows dropped); no training "
            "split is available offline, so a run trains on it (`train_split=\"validation\"`), with "
            "a held-out part carved from it or given. It is the pool that ChaosNLI re-annotated "
            "(1,507 of ChaosNLI's 1,514 SNLI pairs are in it). The hub also has train and test."
        ),
        license="CC BY-SA 4.0",
        citation=(
            "Bowman, Angeli, Potts and Manning, A large annotated corpus for learning natural "
            "language inference, EMNLP 2015."
        ),
        columns=("premise", "hypothesis", "label"),
        local_rows=(("validation", 9831),),
        hub_splits=("train", "validation", "test"),
    ),
    TaskSpec(
        name="rt_human_ratings",
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=SENTIMENT_LABELS,
        splits=("train",),
        train_split="train",
        description=(
            "VADER ground truth for Rotten Tomatoes sentences (the source of SST): label = 1 if "
            "mean_rating > 0; `rating_std` over 15-99 raters is a human-disagreement signal; "
            "37 rows have mean_rating == 0 (no polarity, label 0). Local only: build the parquet "
            "from the vaderSentiment 3.3.2 source distribution "
            "(movieReviewSnippets_GroundTruth.txt, with the raw ratings)."
        ),
        license="MIT",
        citation=_VADER_CITATION,
        columns=_RATINGS_COLUMNS,
        local_rows=(("train", 10605),),
        obtain=(
            "movieReviewSnippets_GroundTruth.txt and its raw ratings in the vaderSentiment 3.3.2 "
            "source distribution (PyPI sdist), converted to parquet"
        ),
    ),
    TaskSpec(
        name="tweets_human_ratings",
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=SENTIMENT_LABELS,
        splits=("train",),
        train_split="train",
        description=(
            "VADER ground truth for tweets: label = 1 if mean_rating > 0; `rating_std` is a "
            "human-disagreement signal; 4 rows have mean_rating == 0. Local only: build the parquet "
            "from the vaderSentiment 3.3.2 source distribution (tweets_GroundTruth.txt, with the "
            "raw ratings)."
        ),
        license="MIT",
        citation=_VADER_CITATION,
        columns=_RATINGS_COLUMNS,
        local_rows=(("train", 4200),),
        obtain=(
            "tweets_GroundTruth.txt and its raw ratings in the vaderSentiment 3.3.2 source "
            "distribution (PyPI sdist), converted to parquet"
        ),
    ),
    # --- real annotator errors: NoisyAG-News (issue 24) ----------------------------------------
    TaskSpec(
        name="noisy_agnews",
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=AGNEWS_LABELS,
        splits=("train", "test"),
        train_split="train",
        eval_split="test",
        description=(
            "NoisyAG-News: 10,000 AG-News items whose training `label` is the majority of three "
            "independent human annotators; `clean_label` is the original AG-News label. The human "
            "label is wrong on 1,975 rows (19.75 %): real, instance-dependent annotator errors, "
            "mostly World/Business/Sci-Tech confusions. A run trains on the human labels and records "
            "is_corrupted = (label != clean_label) as the truth; no noise is injected. `test` is the "
            "clean 7,600-item AG-News test split. Local only: not on the Hugging Face hub."
        ),
        license="MIT",
        citation=_NOISY_AGNEWS_CITATION,
        columns=_NOISY_AGNEWS_COLUMNS,
        local_rows=(("train", 10000), ("test", 7600)),
        obtain=_NOISY_AGNEWS_OBTAIN,
        clean_label="clean_label",
    ),
    TaskSpec(
        name="noisy_agnews_clean",
        kind="classification",
        roles={"text": "text", "label": "clean_label"},
        label_names=AGNEWS_LABELS,
        folder="noisy_agnews",
        splits=("train", "test"),
        train_split="train",
        eval_split="test",
        description=(
            "The same 10,000 NoisyAG-News texts with their original (clean) AG-News labels, to corrupt "
            "synthetically on the same texts: noise_type 'uniform', or 'empirical' (class-conditional "
            "with the confusion matrix of the human errors, measured on the whole training split). "
            "The test split is the clean AG-News test split (its column `label`)."
        ),
        license="MIT",
        citation=_NOISY_AGNEWS_CITATION,
        columns=(*_NOISY_AGNEWS_COLUMNS, "clean_label"),  # the test split's `label` is copied to it on loading
        local_rows=(("train", 10000), ("test", 7600)),
        obtain=_NOISY_AGNEWS_OBTAIN,
        human_label="label",
    ),
    # --- natural language inference: ChaosNLI (issue 9) -----------------------------------------
    *(
        TaskSpec(
            name=f"chaosnli_{source}",
            kind="classification",
            roles={"text": "premise", "text_pair": "hypothesis", "label": "label"},
            label_names=_NLI_LABELS,
            splits=("validation",),
            train_split="validation",
            description=(
                f"ChaosNLI v1.0, {what}: {rows:,} {pool} dev pairs, each with 100 new crowd labels. They "
                "were chosen for low agreement of the original annotators: on every pair exactly 3 of "
                "the original 5 agree, so the 5 `old_labels` carry no graded signal and the 100 new "
                "labels do. `label` is the original gold label (majority of `old_labels`); "
                "`label_count` counts the 100 new labels as [entailment, neutral, contradiction]; "
                "`entropy` (bits) of that distribution is the human-disagreement signal; "
                "`chaos_label` is the majority of the 100. These columns travel into a run's "
                "samples.parquet. Local only: no Hugging Face hub copy exists."
            ),
            license="CC BY-NC 4.0 (research use)",
            citation=_CHAOSNLI_CITATION,
            columns=_CHAOSNLI_COLUMNS,
            local_rows=(("validation", rows),),
            obtain=(
                "the ChaosNLI v1.0 release (https://github.com/easonnie/ChaosNLI, "
                f"chaosNLI_{source}.jsonl), converted to parquet as <data_dir>/chaosnli_{source}/validation.parquet"
            ),
        )
        for source, what, pool, rows in (("snli", "SNLI part", "SNLI", 1514),
                                         ("mnli", "MNLI part", "MNLI matched", 1599))
    ),
)

#: The registry of the study's datasets: task name -> :class:`TaskSpec`.
TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}
#: Tasks registered at run time by :func:`register_task` (users' own data).
_REGISTERED: dict[str, TaskSpec] = {}


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The :class:`TaskSpec` registered under ``name`` (a TaskSpec is returned as is).

    Looks in the study's registry (:data:`TASKS`), then among the tasks added by
    :func:`register_task`.
    """
    if isinstance(name, TaskSpec):
        return name
    if isinstance(name, str) and name in TASKS:
        return TASKS[name]
    if isinstance(name, str) and name in _REGISTERED:
        return _REGISTERED[name]
    known = list(TASKS) + list(_REGISTERED)
    raise ParameterError("task", name, "one of " + ", ".join(repr(k) for k in known),
                         hint="or a task of your own data registered with nlpdiff.tasks.register_task")


def register_task(spec: TaskSpec, replace: bool = False) -> TaskSpec:
    """Make ``spec`` known by its name, so that ``TrainParams(task=spec.name)`` trains on it.

    A study task's name cannot be taken. Registering a second, different spec under a name already
    registered raises :class:`ParameterError` unless ``replace=True`` (the same spec again is fine).
    Returns ``spec``.
    """
    if not isinstance(spec, TaskSpec):
        raise ParameterError("spec", type(spec).__name__, "a TaskSpec (from nlpdiff.tasks.from_frame or from_csv)")
    if spec.name in TASKS:
        raise ParameterError("name", spec.name, f"a name that is not a study task ({', '.join(TASKS)})")
    old = _REGISTERED.get(spec.name)
    if old is not None and not replace and not (old == spec and old.data_source == spec.data_source):
        raise ParameterError("name", spec.name, "a name not registered yet, or replace=True",
                             hint=f"{spec.name!r} already holds data from {old.data_source}")
    _REGISTERED[spec.name] = spec
    return spec


def unregister_task(name: str) -> None:
    """Forget a task added by :func:`register_task` (no error if it is not registered)."""
    _REGISTERED.pop(name, None)


def registered_tasks() -> dict[str, TaskSpec]:
    """The tasks added by :func:`register_task`, by name."""
    return dict(_REGISTERED)
