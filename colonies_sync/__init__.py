"""colonies-sync: a blocking, thread-safe Python client for ColonyOS.

A client reads its server and key from the ``COLONIES_*`` variables, as the
ColonyOS CLI does. Here they come from a fake served on a local port;
against a real server, ``ColoniesClient.from_env()`` reads ``os.environ``:

>>> from colonies_fake import Sandbox
>>> from colonies_sync import ColoniesClient, FunctionSpec
>>> with Sandbox() as sandbox, ColoniesClient.from_env(sandbox.env("user")) as client:
...     process = client.submit_function_spec(FunctionSpec.create("echo", colonyname="dev", executortype="cli"))
...     print(process.state.name)
WAITING

Everything public is importable from here; the modules behind it are private.
"""

from colonies_sync._channel import Channel
from colonies_sync._client import ColoniesClient
from colonies_sync._crypto import Crypto
from colonies_sync._exceptions import (
    BadRequest,
    CertificateVerificationError,
    ChannelFull,
    ChannelNotFound,
    ColoniesConnectionError,
    ColoniesError,
    CryptoError,
    Forbidden,
    InternalServerError,
    InvalidPrivateKey,
    InvalidSignature,
    NoProcessAvailable,
    NotFound,
    PayloadTooLarge,
    ProcessNotFound,
    ProtocolError,
    RateLimitExceeded,
    RequestTimeout,
    ServerError,
    ServiceUnavailable,
    StreamError,
    UnknownProcess,
    WaitTimeout,
)
from colonies_sync._models import (
    GPU,
    Attribute,
    AttributeType,
    Colony,
    Conditions,
    Executor,
    ExecutorState,
    FunctionSpec,
    Log,
    MsgEntry,
    Process,
    ProcessState,
    ServerInfo,
    ServerVersion,
    User,
)
from colonies_sync._subscription import Subscription
from colonies_sync._transport import ClientClosed, HttpTransport, RawReply, Stream, StreamClosed, Transport

__version__ = "0.1.0"

__all__ = [
    "Attribute",
    "AttributeType",
    "BadRequest",
    "CertificateVerificationError",
    "Channel",
    "ChannelFull",
    "ChannelNotFound",
    "ClientClosed",
    "ColoniesClient",
    "ColoniesConnectionError",
    "ColoniesError",
    "Colony",
    "Conditions",
    "Crypto",
    "CryptoError",
    "Executor",
    "ExecutorState",
    "Forbidden",
    "FunctionSpec",
    "GPU",
    "HttpTransport",
    "InternalServerError",
    "InvalidPrivateKey",
    "InvalidSignature",
    "Log",
    "MsgEntry",
    "NoProcessAvailable",
    "NotFound",
    "PayloadTooLarge",
    "Process",
    "ProcessNotFound",
    "ProcessState",
    "ProtocolError",
    "RateLimitExceeded",
    "RawReply",
    "RequestTimeout",
    "ServerError",
    "ServerInfo",
    "ServerVersion",
    "ServiceUnavailable",
    "Stream",
    "StreamClosed",
    "StreamError",
    "Subscription",
    "Transport",
    "UnknownProcess",
    "User",
    "WaitTimeout",
    "__version__",
]
