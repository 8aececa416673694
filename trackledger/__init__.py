"""trackledger: an event-sourced experiment tracking server that speaks MLflow's REST API."""

__all__ = ["__version__"]

__version__ = "0.1.0"
