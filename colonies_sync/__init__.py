"""colonies-sync: a blocking, thread-safe Python client for ColonyOS.

>>> from colonies_sync import ColoniesClient, FunctionSpec
>>> client = ColoniesClient.from_env()                     # doctest: +SKIP
>>> process = client.submit_function_spec(                 # doctest: +SKIP
...     FunctionSpec.create("echo", colonyname="dev", executortype="cli"))

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
from colonies_sync._transport import HttpTransport, RawReply, Stream, StreamClosed, Transport

__version__ = "0.1.0"

__all__ = [
    "Attribute",
    "AttributeType",
    "BadRequest",
    "CertificateVerificationError",
    "Channel",
    "ChannelFull",
    "ChannelNotFound",
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
