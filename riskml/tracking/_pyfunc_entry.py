"""MLflow "model from code" entry point for riskml models.

MLflow copies and executes this file when a riskml model is logged or loaded; riskml never
imports it. The model's state is in its artifacts, read by ``RiskPyfunc.load_context``.
"""

from mlflow.models import set_model

from riskml.tracking._pyfunc import RiskPyfunc

set_model(RiskPyfunc())
