"""Every experiment says where in the course notes its claim comes from: a known chapter, and a Chinese quote
that occurs verbatim in the notes (the repository's copy, docs/notes.zh.md; and the mission's original,
../shared/seed, when this checkout has it beside it).  Fast: nothing runs."""
from pathlib import Path

import pytest

from nabla.experiments import CHAPTERS, NOTES_GAP, experiment_names, experiments_in_notes_order, get_experiment
from nabla.experiments.base import notes_excerpts

REPO = Path(__file__).resolve().parents[2]
NOTES = REPO / "docs" / "notes.zh.md"
SEED = REPO.parent / "shared" / "seed"


def _plain(text: str) -> str:
    """The notes as words: the markdown emphasis marks (``**``) are formatting, left out of the quotes."""
    return text.replace("**", "")


@pytest.fixture(scope="module")
def notes_text():
    return _plain(NOTES.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", experiment_names())
def test_experiment_has_a_known_chapter_and_an_english_rendering(name):
    entry = get_experiment(name)
    assert entry.chapter in CHAPTERS, f"{name}: CHAPTER {entry.chapter!r}; expected one of {list(CHAPTERS)}"
    assert entry.notes is not None and len(entry.notes) == 2, f"{name}: NOTES must be (zh, en)"
    zh, en = entry.notes
    assert zh.strip() and en.strip() and not zh.isascii() and en.isascii(), name


@pytest.mark.parametrize("name", experiment_names())
def test_chinese_quote_is_verbatim_in_the_notes(name, notes_text):
    zh = get_experiment(name).notes[0]
    assert "**" not in zh, f"{name}: leave the notes' ** emphasis out of the quote"
    for part in notes_excerpts(zh):
        assert part.strip() == part and part in notes_text, f"{name}: not verbatim in {NOTES.name}: {part!r}"


def test_each_quote_lies_in_its_chapter(notes_text):
    """Some excerpt of a quote is found under the heading of the chapter the experiment names."""
    starts = {c: notes_text.index(f"# {heading}") for c, (heading, _) in CHAPTERS.items()}
    ends = dict(zip(CHAPTERS, list(starts.values())[1:] + [len(notes_text)]))
    for name in experiment_names():
        entry = get_experiment(name)
        positions = [notes_text.index(part) for part in notes_excerpts(entry.notes[0])]
        inside = [starts[entry.chapter] <= p < ends[entry.chapter] for p in positions]
        assert any(inside), f"{name}: no excerpt of its quote lies in chapter {entry.chapter}"


def test_a_quote_not_in_the_notes_is_caught(notes_text):
    made_up = "注意力机制总是比卷积更快。"
    assert made_up not in notes_text and notes_excerpts("甲" + NOTES_GAP + "乙") == ["甲", "乙"]


def test_notes_order_follows_the_chapters():
    order = [get_experiment(n).chapter for n in experiments_in_notes_order()]
    ranks = [list(CHAPTERS).index(c) for c in order]
    assert ranks == sorted(ranks) and sorted(experiments_in_notes_order()) == sorted(experiment_names())


def test_repository_copy_is_the_original_notes():
    seeds = sorted(SEED.glob("*.txt")) if SEED.is_dir() else []
    if not seeds:
        pytest.skip(f"the original notes ({SEED}) are not beside this checkout (a clean clone has only docs/)")
    assert NOTES.read_text(encoding="utf-8") in [p.read_text(encoding="utf-8") for p in seeds]
