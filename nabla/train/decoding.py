"""Moved to nabla.models.decoding (decoding belongs with the models); this name keeps old imports working."""
from ..models.decoding import *  # noqa: F401,F403
from ..models.decoding import __all__  # noqa: F401
