"""The kernel: the values every layer passes (turns, session memories, the client's week, questionnaire
results, usage tables, evaluation rows and summaries), their base model, the one error story
(``InputError``), what stops a campaign from outside (``Interruption``: a service away, a full disk)
and safe file reading and writing.

It is the bottom layer: it imports nothing of the project, and everything else may import it
(import-linter checks both). The modules: ``values`` (the base model, ``Number``, ids), ``turns``,
``course`` (session memory, the week, the client's traits, a dropout), ``questionnaires``, ``usage``, ``metrics``
(what eval writes), ``errors``, ``interruptions`` (``ServiceUnavailable``, ``DiskFull``: raised by the record's
writer and by the engine's guard around the memory store and the checkpointer), ``files``, ``provenance``
(package versions, component names).
"""

from .course import MEMORY_LABELS, ClientTraits, Dropout, SessionMemory, Week
from .errors import InputError
from .metrics import CampaignSummary, SessionMetrics
from .questionnaires import QuestionnaireResult, Questionnaires
from .turns import (
    Appraisal,
    ClientTurn,
    CounselorTurn,
    RetrievedMemory,
    SafetyStep,
    Turn,
    TurnRating,
    TurnState,
)
from .usage import RoleUsage, UsageTable

__all__ = [
    "MEMORY_LABELS", "Appraisal", "CampaignSummary", "ClientTraits", "ClientTurn", "CounselorTurn", "Dropout", "InputError",
    "QuestionnaireResult",
    "Questionnaires", "RetrievedMemory", "RoleUsage", "SafetyStep", "SessionMemory", "SessionMetrics", "Turn",
    "TurnRating", "TurnState", "UsageTable", "Week",
]
