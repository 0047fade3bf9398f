"""Read by a plain `gunicorn proxy:app` from this directory: the settings shipped in the package."""
from proxy.gunicorn_conf import *  # noqa: F401,F403
