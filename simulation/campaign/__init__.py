"""Running a campaign: ``prepare_campaign`` checks everything and writes nothing, ``run_campaign`` runs it.

Inside: ``run`` -> ``prepare``, ``ray_executor`` -> ``courses`` (one course, and courses in threads: both
executors run a course the same way).
"""

from .prepare import CampaignPlan, prepare_campaign
from .run import CampaignResult, run_campaign

__all__ = ["CampaignPlan", "CampaignResult", "prepare_campaign", "run_campaign"]
