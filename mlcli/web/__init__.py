"""What mlcli's three ASGI apps share: ``mlcli serve`` (scoring), ``mlcli server``
(the tracking server) and ``mlcli ui``: the guard in front of each, request bodies,
HTTP errors, logs, and binding a socket for uvicorn."""
