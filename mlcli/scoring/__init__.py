"""The scoring server: MLflow's protocol on an ASGI app (Starlette on uvicorn).

    from mlcli.client import MlcliClient
    from mlcli.scoring import ServeConfig, serve

    serve(ServeConfig("models:/iris@champion", port=5000, watch=True), MlcliClient())

Modules, one idea each: ``config`` (the settings), ``origin`` (which model and
version a URI names), ``served`` (the loaded model and its metadata), ``protocol``
(content types, scoring, error bodies), ``app`` (the ASGI app), ``log`` (access
lines), ``watcher`` (``--watch``), ``server`` (uvicorn), ``virtualenv``
(``--env-manager virtualenv``). Starlette and uvicorn are imported only here.
"""

from mlcli.scoring.app import create_app
from mlcli.scoring.config import ServeConfig
from mlcli.scoring.launch import serve
from mlcli.scoring.origin import ModelOrigin, locate_model
from mlcli.scoring.served import ServedModel, load_served_model

__all__ = [
    "ModelOrigin",
    "ServeConfig",
    "ServedModel",
    "create_app",
    "load_served_model",
    "locate_model",
    "serve",
]
