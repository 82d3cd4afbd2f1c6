"""trio_webkit: a structured-concurrency HTTP/1.1 toolkit for Trio."""

import contextlib

from ._api import download as download
from ._api import fetch as fetch
from ._api import get as get
from ._client import Client as Client
from ._config import ServerConfig as ServerConfig
from ._consumer import Consumer as Consumer
from ._errors import ConnectError as ConnectError
from ._errors import ConnectTimeout as ConnectTimeout
from ._errors import HTTPError as HTTPError
from ._errors import HTTPStatusError as HTTPStatusError
from ._errors import IncompleteBody as IncompleteBody
from ._errors import InvalidURL as InvalidURL
from ._errors import PoolTimeout as PoolTimeout
from ._errors import ProtocolError as ProtocolError
from ._errors import ReadTimeout as ReadTimeout
from ._errors import TooManyRedirects as TooManyRedirects
from ._errors import UnsupportedScheme as UnsupportedScheme
from ._errors import WriteTimeout as WriteTimeout
from ._headers import Headers as Headers
from ._open_url import URLResource as URLResource
from ._open_url import open_url as open_url
from ._pool import PoolStatistics as PoolStatistics
from ._producer import Producer as Producer
from ._request import Request as Request
from ._response import Response as Response
from ._router import Router as Router
from ._server import Server as Server
from ._server import serve as serve
from ._server_connection import Handler as Handler
from ._server_connection import serve_connection as serve_connection
from ._server_state import ServerStatistics as ServerStatistics
from ._timeouts import Timeout as Timeout
from ._version import __version__ as __version__

__all__ = [
    "Client",
    "ConnectError",
    "ConnectTimeout",
    "Consumer",
    "HTTPError",
    "HTTPStatusError",
    "Handler",
    "Headers",
    "IncompleteBody",
    "InvalidURL",
    "PoolStatistics",
    "PoolTimeout",
    "Producer",
    "ProtocolError",
    "ReadTimeout",
    "Request",
    "Response",
    "Router",
    "Server",
    "ServerConfig",
    "ServerStatistics",
    "Timeout",
    "TooManyRedirects",
    "URLResource",
    "UnsupportedScheme",
    "WriteTimeout",
    "download",
    "fetch",
    "get",
    "open_url",
    "serve",
    "serve_connection",
]

# Show ``trio_webkit.Server`` rather than ``trio_webkit._server.Server``.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        with contextlib.suppress(AttributeError, TypeError):
            _obj.__module__ = __name__
del _name, _obj
