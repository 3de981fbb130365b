"""``nabla report``: the notes' claims, their experiments' verdicts and the training runs as one static site that
opens from disk (no server, no network): see ``build.build_report``."""
from .build import build_report
from .chapters import CHAPTERS, OTHER, chapter
from .records import Claim, ExperimentResult, TrainingRun

__all__ = ["build_report", "CHAPTERS", "OTHER", "chapter", "Claim", "ExperimentResult", "TrainingRun"]
