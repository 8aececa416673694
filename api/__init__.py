"""The HTTP surface: MLflow's REST API and trackledger's own endpoints."""
