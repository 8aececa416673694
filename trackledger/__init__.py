"""trackledger: an event-sourced experiment tracking server that speaks MLflow's REST API."""

__all__ = ["MLFLOW_API_VERSION", "__version__"]

__version__ = "0.1.0"

#: The MLflow release whose REST API this server speaks. ``GET /version`` answers it, as
#: MLflow's server answers its own: the client compares it with MLflow's releases before
#: it uses newer endpoints (it logs spans only to a server of 3.4 or later).
MLFLOW_API_VERSION = "3.17.2"
