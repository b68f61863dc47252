"""The kernel: the values every layer passes (turns, session memories, the client's week, questionnaire
results, usage tables, evaluation rows and summaries), their base model, the one error story
(``InputError``) and safe file reading and writing.

It is the bottom layer: it imports nothing of the project, and everything else may import it
(import-linter checks both). The modules: ``values`` (the base model, ``Number``, ids), ``turns``,
``course`` (session memory, the week), ``questionnaires``, ``usage``, ``metrics`` (what eval writes),
``errors``, ``files``, ``provenance`` (package versions, component names).
"""

from muspsy_sim.simulation.core.course import MEMORY_LABELS, SessionMemory, Week
from muspsy_sim.simulation.core.errors import InputError
from muspsy_sim.simulation.core.metrics import CampaignSummary, SessionMetrics
from muspsy_sim.simulation.core.questionnaires import QuestionnaireResult, Questionnaires
from muspsy_sim.simulation.core.turns import (
    Appraisal,
    ClientTurn,
    CounselorTurn,
    RetrievedMemory,
    SafetyStep,
    Turn,
    TurnState,
)
from muspsy_sim.simulation.core.usage import RoleUsage, UsageTable

__all__ = [
    "MEMORY_LABELS", "Appraisal", "CampaignSummary", "ClientTurn", "CounselorTurn", "InputError", "QuestionnaireResult",
    "Questionnaires", "RetrievedMemory", "RoleUsage", "SafetyStep", "SessionMemory", "SessionMetrics", "Turn",
    "TurnState", "UsageTable", "Week",
]
