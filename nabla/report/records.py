"""What the report shows, as plain records: a registered experiment (``Claim``), one run of it read from its
JSON (``ExperimentResult``), and a training run folder (``TrainingRun``).

The report does not import the experiment registry (``nabla.experiments`` is a package of the same layer): the
command hands it ``Claim`` records, so the report can also be built from any list of them (tests do).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Claim:
    """A registered experiment: what it tests and where the notes say it."""
    name: str
    summary: str
    claim: str
    chapter: str | None = None        # a chapter id (``nabla.report.chapters``); None: not categorised yet
    notes: tuple | None = None        # (the notes' sentence in Chinese, an English rendering)

    @property
    def command(self) -> str:
        """The command that runs it (full budget)."""
        return f"nabla experiment {self.name} --out runs/experiments"


@dataclass
class ExperimentResult:
    """``<name>.json`` (and ``<name>.png``) as ``run_experiment`` writes them."""
    name: str
    path: str                         # the JSON file
    claim: str
    supported: bool | None
    verdict: str
    table: list
    claims: dict                      # sub-claim -> bool (``data["claims"]``), maybe empty
    quick: bool
    plot: str | None                  # the PNG beside the JSON, if any
    command: str
    date: str                         # ISO date-time: the JSON's, else the file's modification time
    nabla_version: str
    commit: str
    machine: str
    chapter: str | None = None        # as recorded in the JSON (when the registry does not know the name)
    notes: tuple | None = None
    summary: str = ""


@dataclass
class TrainingRun:
    """A ``nabla train`` run folder: its record, its history, its final figures and its pictures."""
    folder: str
    name: str                         # a label: the folder's name
    model: str
    dataset: str
    task: str
    config: dict                      # what the checkpoint records (options, settings...), {} if unreadable
    history: dict                     # history.json: column -> values
    final: dict                       # test.json, less model and dataset
    images: list = field(default_factory=list)   # image files in the folder (and its sub-folders)
    command: str = ""
    date: str = ""
