"""Shared test fixtures: tiny datasets in the Hugging Face hub schemas.

``tiny_data_dir`` (session scope) writes a data dir laid out like ``../shared/data`` — one folder per
task of :data:`nlpdiff.tasks.TASKS`, ``<folder>/<split>.parquet`` — so that any test can call
``load_split(task, split, data_dir=tiny_data_dir)`` on a fresh machine with no network and no
``/work/shared``. Row counts are in :data:`TINY_ROWS` (also the ``tiny_rows`` fixture):

=====================  ==============================  =============================================
folder                 splits (rows)                   columns
=====================  ==============================  =============================================
sst2                   train 200, validation 60,       idx (int32), sentence, label (0 neg, 1 pos),
                       test 40                         balanced; learnable word-list sentences
imdb                   train 40, test 40               text, label, id (``test/neg/3_2``)
imdb_label_errors      test 6                          id, given_label, guessed_label, votes_*;
                       (+ cleanlab_cv_pred_probs 40)   (id, p_neg, p_pos) for each imdb test row
squad                  train 8, validation 6           id, title, context, question,
                                                       answers {text: [...], answer_start: [...]}
                                                       (validation: 2-3 answers; offsets correct)
samsum                 train 12, validation 6, test 6  id, dialogue, summary
cnn_dailymail          validation 6                    article, highlights, id
xsum                   test 6                          document, summary, id (int64)
rt_human_ratings       train 80                        id, text, label (1 if mean_rating > 0),
tweets_human_ratings   train 40                        mean_rating, rating_std, ratings (list)
=====================  ==============================  =============================================

Sentiment sentences come from small positive/negative word lists (``POSITIVE_WORDS``,
``NEGATIVE_WORDS``) so that even a bag-of-words model learns them. Everything is deterministic.
Do not modify the files in tests: the directory is shared by the whole session.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

POSITIVE_WORDS = (
    "wonderful", "brilliant", "moving", "delightful", "superb", "charming", "funny",
    "beautiful", "gripping", "heartfelt", "excellent", "enjoyable",
)
NEGATIVE_WORDS = (
    "boring", "awful", "dull", "terrible", "tedious", "clumsy", "painful", "bland",
    "dreadful", "lifeless", "poor", "messy",
)
_SUBJECTS = ("the film", "this movie", "the plot", "the acting", "the script", "the ending",
             "the cast", "the story", "the direction", "every scene")
_TEMPLATES = (
    "{s} is {a} .",
    "{s} was {a} and {b} .",
    "a {a} , {b} piece of work .",
    "{s} feels {a} from start to finish .",
    "what a {a} experience .",
    "i found {s} {a} .",
)

#: (folder, split) -> number of rows written by ``tiny_data_dir``.
TINY_ROWS = {
    ("sst2", "train"): 200,
    ("sst2", "validation"): 60,
    ("sst2", "test"): 40,
    ("imdb", "train"): 40,
    ("imdb", "test"): 40,
    ("imdb_label_errors", "test"): 6,
    ("imdb_label_errors", "cleanlab_cv_pred_probs"): 40,
    ("squad", "train"): 8,
    ("squad", "validation"): 6,
    ("samsum", "train"): 12,
    ("samsum", "validation"): 6,
    ("samsum", "test"): 6,
    ("cnn_dailymail", "validation"): 6,
    ("xsum", "test"): 6,
    ("rt_human_ratings", "train"): 80,
    ("tweets_human_ratings", "train"): 40,
}


def sentiment_sentence(rng: random.Random, label: int) -> str:
    """One short English sentence whose sentiment words all match ``label`` (1 pos, 0 neg)."""
    words = POSITIVE_WORDS if label == 1 else NEGATIVE_WORDS
    a, b = rng.sample(words, 2)
    return rng.choice(_TEMPLATES).format(s=rng.choice(_SUBJECTS), a=a, b=b)


def balanced_labels(n: int, rng: random.Random) -> list[int]:
    """n labels, half 0 and half 1 (one more 0 when n is odd), shuffled."""
    labels = [i % 2 for i in range(n)]
    rng.shuffle(labels)
    return labels


def _write(path: Path, columns: dict, schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path)


_S = pa.string()


def _sst2(root: Path, rng: random.Random) -> None:
    schema = pa.schema([("idx", pa.int32()), ("sentence", _S), ("label", pa.int64())])
    for split in ("train", "validation", "test"):
        n = TINY_ROWS[("sst2", split)]
        labels = balanced_labels(n, rng)
        _write(
            root / "sst2" / f"{split}.parquet",
            {"idx": list(range(n)), "sentence": [sentiment_sentence(rng, y) for y in labels],
             "label": labels},
            schema,
        )


def _imdb(root: Path, rng: random.Random) -> None:
    schema = pa.schema([("text", _S), ("label", pa.int64()), ("id", _S)])
    test_ids = []
    for split in ("train", "test"):
        n = TINY_ROWS[("imdb", split)]
        labels = balanced_labels(n, rng)
        texts = [" ".join(sentiment_sentence(rng, y) for _ in range(4)) for y in labels]
        ids = [f"{split}/{'pos' if y else 'neg'}/{i}_{rng.randint(7, 10) if y else rng.randint(1, 4)}"
               for i, y in enumerate(labels)]
        if split == "test":
            test_ids, test_labels = ids, labels
        _write(root / "imdb" / f"{split}.parquet",
               {"text": texts, "label": labels, "id": ids}, schema)
    # label errors: candidates among the test rows, 5 votes each
    cand = list(range(0, TINY_ROWS[("imdb_label_errors", "test")] * 3, 3))
    votes = [(4, 1, 0, 0), (1, 4, 0, 0), (2, 3, 0, 0), (3, 1, 1, 0), (0, 5, 0, 0), (2, 2, 1, 0)]
    err_schema = pa.schema([("id", _S), ("given_label", pa.int64()), ("guessed_label", pa.int64()),
                            ("votes_given", pa.int64()), ("votes_guessed", pa.int64()),
                            ("votes_neutral", pa.int64()), ("votes_off_topic", pa.int64())])
    _write(
        root / "imdb_label_errors" / "test.parquet",
        {"id": [test_ids[i] for i in cand],
         "given_label": [test_labels[i] for i in cand],
         "guessed_label": [1 - test_labels[i] for i in cand],
         "votes_given": [v[0] for v in votes], "votes_guessed": [v[1] for v in votes],
         "votes_neutral": [v[2] for v in votes], "votes_off_topic": [v[3] for v in votes]},
        err_schema,
    )
    p_pos = [round(min(max(0.8 * y + 0.1 + rng.uniform(-0.1, 0.1), 0.0), 1.0), 4)
             for y in test_labels]
    _write(
        root / "imdb_label_errors" / "cleanlab_cv_pred_probs.parquet",
        {"id": test_ids, "p_neg": [1 - p for p in p_pos], "p_pos": p_pos},
        pa.schema([("id", _S), ("p_neg", pa.float64()), ("p_pos", pa.float64())]),
    )


_FACTS = (
    ("Denver Broncos", "Super Bowl 50", "The Denver Broncos defeated the Carolina Panthers 24-10 "
     "to win Super Bowl 50 in Santa Clara, California.", "Who won Super Bowl 50?",
     "Denver Broncos"),
    ("Warsaw", "Warsaw", "Warsaw is the capital and largest city of Poland. It stands on the "
     "Vistula River in east-central Poland.", "On which river does Warsaw stand?",
     "Vistula River"),
    ("Oxygen", "Oxygen", "Oxygen is a chemical element with symbol O and atomic number 8. It was "
     "discovered by Carl Wilhelm Scheele.", "What is the atomic number of oxygen?", "8"),
    ("Normans", "Normans", "The Normans gave their name to Normandy, a region in France, in the "
     "10th and 11th centuries.", "Which region is named after the Normans?", "Normandy"),
)


def _squad(root: Path, rng: random.Random) -> None:
    answers_type = pa.struct([("text", pa.list_(pa.string())),
                              ("answer_start", pa.list_(pa.int64()))])
    schema = pa.schema([("id", _S), ("title", _S), ("context", _S), ("question", _S),
                        ("answers", answers_type)])
    for split in ("train", "validation"):
        n = TINY_ROWS[("squad", split)]
        cols = {k: [] for k in ("id", "title", "context", "question", "answers")}
        for i in range(n):
            title, _, context, question, answer = _FACTS[i % len(_FACTS)]
            start = context.index(answer)
            repeat = 1 if split == "train" else 2 + i % 2  # several annotators on validation
            cols["id"].append(f"{split}-{i:04d}")
            cols["title"].append(title)
            cols["context"].append(context)
            cols["question"].append(question)
            cols["answers"].append({"text": [answer] * repeat, "answer_start": [start] * repeat})
        _write(root / "squad" / f"{split}.parquet", cols, schema)


_PEOPLE = ("Anna", "Ben", "Chloe", "Dan", "Eve", "Finn")
_PLANS = ("the cinema", "lunch", "the gym", "the beach", "the library", "a concert")


def _dialogue(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(_PEOPLE, 2)
    plan = rng.choice(_PLANS)
    hour = rng.randint(1, 9)
    dialogue = (f"{a}: Are you coming to {plan} today?\r\n{b}: Yes, what time?\r\n"
                f"{a}: At {hour} pm.\r\n{b}: Great, see you there!")
    return dialogue, f"{b} will join {a} at {plan} at {hour} pm."


def _summaries(root: Path, rng: random.Random) -> None:
    schema = pa.schema([("id", _S), ("dialogue", _S), ("summary", _S)])
    for split in ("train", "validation", "test"):
        n = TINY_ROWS[("samsum", split)]
        pairs = [_dialogue(rng) for _ in range(n)]
        _write(root / "samsum" / f"{split}.parquet",
               {"id": [f"1373{i:04d}" for i in range(n)], "dialogue": [p[0] for p in pairs],
                "summary": [p[1] for p in pairs]}, schema)
    n = TINY_ROWS[("cnn_dailymail", "validation")]
    pairs = [_dialogue(rng) for _ in range(n)]
    _write(root / "cnn_dailymail" / "validation.parquet",
           {"article": ["(CNN) -- " + p[0].replace("\r\n", " ") for p in pairs],
            "highlights": [p[1] for p in pairs], "id": [f"{i:040x}" for i in range(n)]},
           pa.schema([("article", _S), ("highlights", _S), ("id", _S)]))
    n = TINY_ROWS[("xsum", "test")]
    pairs = [_dialogue(rng) for _ in range(n)]
    _write(root / "xsum" / "test.parquet",
           {"document": [p[0].replace("\r\n", " ") for p in pairs],
            "summary": [p[1] for p in pairs], "id": [38264402 + i for i in range(n)]},
           pa.schema([("document", _S), ("summary", _S), ("id", pa.int64())]))


def _ratings(root: Path, rng: random.Random) -> None:
    schema = pa.schema([("id", pa.int64()), ("text", _S), ("label", pa.int64()),
                        ("mean_rating", pa.float64()), ("rating_std", pa.float64()),
                        ("ratings", pa.list_(pa.int64()))])
    for folder in ("rt_human_ratings", "tweets_human_ratings"):
        n = TINY_ROWS[(folder, "train")]
        cols = {k: [] for k in schema.names}
        for i, y in enumerate(balanced_labels(n, rng)):
            center = rng.choice((1, 2, 3)) * (1 if y else -1)
            spread = rng.choice((0, 1, 2))  # rater disagreement
            ratings = [max(-4, min(4, center + rng.randint(-spread, spread)))
                       for _ in range(rng.randint(15, 25))]
            mean = sum(ratings) / len(ratings)
            std = (sum((r - mean) ** 2 for r in ratings) / len(ratings)) ** 0.5
            cols["id"].append(i + 1)
            cols["text"].append(sentiment_sentence(rng, y))
            cols["label"].append(int(mean > 0))
            cols["mean_rating"].append(round(mean, 3))
            cols["rating_std"].append(round(std, 6))
            cols["ratings"].append(ratings)
        _write(root / folder / "train.parquet", cols, schema)


def write_tiny_data(root: Path, seed: int = 0) -> Path:
    """Write every tiny dataset under ``root`` (see the module docstring) and return ``root``."""
    rng = random.Random(seed)
    _sst2(root, rng)
    _imdb(root, rng)
    _squad(root, rng)
    _summaries(root, rng)
    _ratings(root, rng)
    return root


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """A data dir with tiny parquet copies of every task (layout ``<folder>/<split>.parquet``).

    Pass it as ``data_dir=`` to :func:`nlpdiff.tasks.load_split`, or set ``NLPDIFF_DATA_DIR`` to
    it with ``monkeypatch.setenv``. Read-only by convention: it is shared by the session.
    """
    return write_tiny_data(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture(scope="session")
def tiny_rows() -> dict:
    """(folder, split) -> number of rows written by ``tiny_data_dir``."""
    return dict(TINY_ROWS)
