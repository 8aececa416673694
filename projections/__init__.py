"""The read model: what events do to the tables searches read, and the queries over them."""

from trackledger.projections.changes import changes_for
from trackledger.projections.views import ExperimentView, Page, ReadModel, RunView

__all__ = ["ExperimentView", "Page", "ReadModel", "RunView", "changes_for"]
