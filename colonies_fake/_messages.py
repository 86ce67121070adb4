"""The real server's error texts, word for word (typos included).

Every error text that the real server's own code writes is here, so a test can
compare a reply with the real server's without hunting through handlers. Names
and ids inside the real texts are wrapped in literal angle brackets, as here.
Sources: PROTOCOL.md sections 2 to 8, the golden transcripts and the real
handlers. Texts that come from Go libraries (JSON and hex decoding, secp256k1,
``strconv``) are made where those checks are made, in ``_gojson``,
``_parsers`` and ``colonies_sync._crypto``: a compatible server need only match
their status.
"""

from __future__ import annotations

# --- envelope and dispatch (PROTOCOL.md 2.3) ---------------------------------------------
EMPTY_PAYLOADTYPE = (
    "invalid rpcMsg.PayloadType: empty (this usually means the client is misconfigured - "
    "check that COLONIES_PRVKEY and other environment variables are set correctly)"
)


def unknown_payloadtype(payloadtype: str) -> str:
    return f"invalid rpcMsg.PayloadType: {payloadtype}"


# --- authorisation (PROTOCOL.md 4) ---------------------------------------------------------
NOT_SERVER_OWNER = "Access denied, not server owner"
NOT_COLONY_OWNER = "Access denied, not colony owner"
EMPTY_COLONY_NAME = "Empty Colony name"


def colony_missing(name: str) -> str:
    return f"Colony with name <{name}> does not exists"


def not_member(name: str) -> str:
    return f"Access denied, not a member of Colony with name <{name}>"


# --- server ----------------------------------------------------------------------------
VERSION_INVALID_JSON = "Failed to get server version, invalid JSON"
VERSION_MSGTYPE = "Failed to get server version, msg.MsgType does not match payloadType"

STATISTICS_INVALID_JSON = "Failed to get statistics, invalid JSON"
STATISTICS_MSGTYPE = "Failed to get statistics, msg.MsgType does not match payloadType"

# --- colonies -------------------------------------------------------------------------
ADD_COLONY_INVALID_JSON = "Failed to add colony, invalid JSON"
ADD_COLONY_MSGTYPE = "Failed to add colony, msg.MsgType does not match payloadType"
ADD_COLONY_NIL = "Failed to add colony, colony is <nil>"
ADD_COLONY_ID_LENGTH = "Failed to add colony, invalid colony Id length"
GET_COLONY_INVALID_JSON = "Failed to get colony, invalid JSON"
GET_COLONY_MSGTYPE = "Failed to get colony, msg.MsgType does not match payloadType"
GET_COLONY_NIL = "Failed to get colony, colony is nil"
GET_COLONIES_INVALID_JSON = "Failed to get colonies, invalid JSON"
GET_COLONIES_MSGTYPE = "Failed to get colonies, msg.MsgType does not match payloadType"
REMOVE_COLONY_INVALID_JSON = "Failed to remove colony, invalid JSON"
REMOVE_COLONY_MSGTYPE = "Failed to remove colony, msg.MsgType does not match payloadType"

COLONY_STATISTICS_INVALID_JSON = "Failed to get colony statistics, invalid JSON"
COLONY_STATISTICS_MSGTYPE = "Failed to get colony statistics, msg.MsgType does not match payloadType"


def colony_exists(name: str) -> str:
    return f"A Colony with name <{name}> already exists"


def colony_not_found(name: str) -> str:
    return f"Colony with name <{name}> not found"


# --- executors ------------------------------------------------------------------------
ADD_EXECUTOR_INVALID_JSON = "Failed to add executor, invalid JSON"
ADD_EXECUTOR_MSGTYPE = "Failed to add executor, msg.MsgType does not match payloadType"
ADD_EXECUTOR_NIL = "Failed to add executor, executor is nil"
APPROVE_EXECUTOR_INVALID_JSON = "Failed to approve executor, invalid JSON"
APPROVE_EXECUTOR_MSGTYPE = "Failed to approve executor, msg.MsgType does not match payloadType"
APPROVE_EXECUTOR_NIL = "Failed to approve executor, executor is nil"
REJECT_EXECUTOR_INVALID_JSON = "Failed to reject executor, invalid JSON"
REJECT_EXECUTOR_MSGTYPE = "Failed to reject executor, msg.MsgType does not match payloadType"
REJECT_EXECUTOR_NIL = "Failed to reject executor, executor is nil"
REMOVE_EXECUTOR_INVALID_JSON = "Failed to remove executor, invalid JSON"
REMOVE_EXECUTOR_MSGTYPE = "Failed to remove executor, msg.MsgType does not match payloadType"
REMOVE_EXECUTOR_NIL = "Failed to remove executor, executor is nil"
GET_EXECUTORS_INVALID_JSON = "Failed to get executors, invalid JSON"
GET_EXECUTORS_MSGTYPE = "Failed to get executors, msg.MsgType does not match payloadType"
GET_EXECUTOR_INVALID_JSON = "Failed to get executor, invalid JSON"
GET_EXECUTOR_MSGTYPE = "Failed to get executor, msg.MsgType does not match payloadType"
GET_EXECUTOR_NIL = "Failed to get executor, executor is nil"
GET_EXECUTOR_BY_ID_INVALID_JSON = "Failed to get executor by ID, invalid JSON"
GET_EXECUTOR_BY_ID_MSGTYPE = "Failed to get executor by ID, msg.MsgType does not match payloadType"
GET_EXECUTOR_BY_ID_NIL = "Failed to get executor by ID, executor is nil"


def executor_exists(executor: str, colony: str) -> str:
    return f"Executor with name <{executor}> in Colony <{colony}> already exists"


# --- users ----------------------------------------------------------------------------
ADD_USER_INVALID_JSON = "Failed to add user, invalid JSON"
ADD_USER_MSGTYPE = "Failed to add user, msg.MsgType does not match payloadType"
ADD_USER_NIL = "Failed to add user, executor is nil"  # sic
GET_USERS_INVALID_JSON = "Failed to get users, invalid JSON"
GET_USERS_MSGTYPE = "Failed to get users, msg.MsgType does not match payloadType"
GET_USER_INVALID_JSON = "Failed to get user, invalid JSON"
GET_USER_MSGTYPE = "Failed to get user, msg.MsgType does not match payloadType"
GET_USER_NIL = "Failed to get user, user is nil"
# getuserbyidmsg: the handler (pkg/server/handlers/user HandleGetUserByID) is not among the sources
# read; its unit tests give the order and statuses (400 JSON, 400 msgtype, 400 colony missing, 403
# membership, 404 no such user). The texts follow the handler's siblings and getexecutorbyidmsg
# ("…by ID, …", 404 "… is nil"), inferred, not verified against a real server.
GET_USER_BY_ID_INVALID_JSON = "Failed to get user by ID, invalid JSON"
GET_USER_BY_ID_MSGTYPE = "Failed to get user by ID, msg.MsgType does not match payloadType"
GET_USER_BY_ID_NIL = "Failed to get user by ID, user is nil"
REMOVE_USER_INVALID_JSON = "Failed to remove user, invalid JSON"
REMOVE_USER_MSGTYPE = "Failed to remove user, msg.MsgType does not match payloadType"


def user_name_exists(name: str, colony: str) -> str:
    return f"A user with name <{name}> already exists in Colony with name <{colony}>"


def user_not_found(name: str) -> str:
    return f"User with name <{name}> not found"


# --- processes ------------------------------------------------------------------------
SUBMIT_INVALID_JSON = "Failed to submit process, invalid JSON"
SUBMIT_MSGTYPE = "Failed to submit process spec, msg.MsgType does not match payloadType"
SUBMIT_SPEC_NIL = "Failed to submit process spec, msg.FunctionSpec is nil"
SUBMIT_PRIORITY = "Failed to submit function spec, priority outside range [-50000, 50000]"
CPU_CONVERSION = "Error converting CPU to int"
NO_INITIATOR = "Could not derive InitiatorName"
# PostgreSQL's text for a negative LIMIT (count); the real server passes it through.
NEGATIVE_LIMIT = "pq: LIMIT must not be negative"

ASSIGN_INVALID_JSON = "Failed to assign process, invalid JSON"
ASSIGN_MSGTYPE = "Failed to assign process, msg.msgType does not match payloadType"
ASSIGN_ZERO_TIMEOUT = "Invalid timeout value, timeout cannot be zero"
ASSIGN_NOT_EXECUTOR = "Failed to assign process, executor not found"
ASSIGN_PAUSED_TIMEOUT = "Assignment timeout: colony assignments are paused"
ASSIGN_PAUSED = "No processes available: colony assignments are paused"
NO_PROCESS_AVAILABLE = "No process available for assignment"

GET_PROCESS_INVALID_JSON = "Failed to get process, invalid JSON"
GET_PROCESS_MSGTYPE = "Failed to get process, msg.MsgType does not match payloadType"
GET_PROCESS_NOT_FOUND = "Failed to get process, process not found"

GET_PROCESSES_INVALID_JSON = "Failed to get processes, invalid JSON"
GET_PROCESSES_MSGTYPE = "Failed to get processes, msg.MsgType does not match payloadType"
GET_PROCESSES_INVALID_STATE = "Failed to get processes, invalid msg.State"
MAX_COUNT = 100


def count_too_large(limit: int = MAX_COUNT) -> str:
    return f"Count is larger than MaxCount limit <{limit}>"


def user_missing(name: str) -> str:
    return f"User <{name}> does not exist"


REMOVE_PROCESS_INVALID_JSON = "Failed to remove process, invalid JSON"
REMOVE_PROCESS_MSGTYPE = "Failed to remove process, msg.MsgType does not match payloadType"
REMOVE_PROCESS_NIL = "Failed to remove process, process is nil"
REMOVE_PROCESS_WORKFLOW = (
    "Failed to remove, cannot remove a process part of a workflow, delete the entire workflow instead"
)
REMOVE_PROCESS_RUNNING = "Failed to remove process, cannot remove a running process"

REMOVE_ALL_INVALID_JSON = "Failed to remove all processes, invalid JSON"
REMOVE_ALL_MSGTYPE = "Failed to remove all processes, msg.MsgType does not match payloadType"
REMOVE_ALL_RUNNING = "Not possible to remove running processes"
REMOVE_ALL_INVALID_STATE = "Invalid state when deleting all processes"

CLOSE_OK_INVALID_JSON = "Failed to close successful, invalid JSON"
CLOSE_OK_MSGTYPE = "Failed to close process as successful, msg.MsgType does not match payloadType"
CLOSE_OK_NIL = "Failed to close process as successful, process is nil"
CLOSE_OK_NOT_ASSIGNED = "Failed to close process as successful, process is not assigned"
CLOSE_OK_NOT_ALLOWED = "Failed to close process as successful, not allowed to close process as successful"
CLOSE_OK_FAILED = "Tried to set failed process as successful"
CLOSE_OK_CANCELLED = "Tried to set cancelled process as successful"
CLOSE_OK_WAITING = "Tried to set waiting process as successful without being running"

CLOSE_FAILED_INVALID_JSON = "Failed to close failed, invalid JSON"
CLOSE_FAILED_MSGTYPE = "Failed to close process as failed, msg.MsgType does not match payloadType"
CLOSE_FAILED_NIL = "Failed to close process as failed, process is nil"
CLOSE_FAILED_NOT_ASSIGNED = "Failed to close process as failed, process is not assigned"
CLOSE_FAILED_NOT_ALLOWED = "Failed to close process as failed, not allowed to close process as failed"
CLOSE_FAILED_SUCCESS = "Tried to set successful process as failed"
CLOSE_FAILED_FAILED = "Tried to set failed process as failed"
CLOSE_FAILED_CANCELLED = "Tried to set cancelled process as failed"

SET_OUTPUT_INVALID_JSON = "Failed to set output, invalid JSON"
SET_OUTPUT_MSGTYPE = "Failed to set output, msg.MsgType does not match payloadType"
SET_OUTPUT_NIL = "Failed to set output, process is nil"
SET_OUTPUT_NOT_RUNNING = "Failed to set output, process is not running"

CANCEL_INVALID_JSON = "Failed to cancel process, invalid JSON"
CANCEL_MSGTYPE = "Failed to cancel process, msg.MsgType does not match payloadType"
CANCEL_NIL = "Failed to cancel process, process is nil"
CANCEL_WORKFLOW = "Failed to cancel, cannot cancel a process part of a workflow, cancel the entire workflow instead"
CANCEL_SUCCESS = "Tried to cancel successful process"
CANCEL_FAILED = "Tried to cancel failed process"
CANCEL_CANCELLED = "Tried to cancel already cancelled process"

PAUSE_INVALID_JSON = "Failed to pause assignments, invalid JSON"
PAUSE_MSGTYPE = "Failed to pause assignments, msg.MsgType does not match payloadType"
RESUME_INVALID_JSON = "Failed to resume assignments, invalid JSON"
RESUME_MSGTYPE = "Failed to resume assignments, msg.MsgType does not match payloadType"
PAUSE_STATUS_INVALID_JSON = "Failed to get pause status, invalid JSON"
PAUSE_STATUS_MSGTYPE = "Failed to get pause status, msg.MsgType does not match payloadType"

# Server-side deadline failures (PROTOCOL.md 7.3).
EXEC_TIME_EXCEEDED = "Maximum execution time limit exceeded"
WAIT_TIME_EXCEEDED = "Maximum waiting time limit exceeded"

# --- logs -----------------------------------------------------------------------------
ADD_LOG_INVALID_JSON = "Failed to add log, invalid JSON"
ADD_LOG_MSGTYPE = "Failed to add log, msg.MsgType does not match payloadType"
ADD_LOG_NIL = "Failed to add log, process is nil"
ADD_LOG_NOT_RUNNING = "Failed to set output, process is not running"  # sic
ADD_LOG_NOT_ALLOWED = "Failed to add log, not allowed to add log, only the assigned Executor may att logs"  # sic
GET_LOGS_INVALID_JSON = "Failed to get logs, invalid JSON"
GET_LOGS_MSGTYPE = "Failed to get logs, msg.MsgType does not match payloadType"
GET_LOGS_NO_EXECUTOR = "Failed to get logs, executor does not exist"
GET_LOGS_NO_PROCESS = "Failed to get logs, process does not exist"
MAX_LOG_COUNT = 500
GET_LOGS_COUNT = f"Count exceeds max log count ({MAX_LOG_COUNT})"

# --- attributes -----------------------------------------------------------------------
ADD_ATTRIBUTE_INVALID_JSON = "Failed to add attribute, invalid JSON"
ADD_ATTRIBUTE_MSGTYPE = "Failed to add attribute, msg.MsgType does not match payloadType"
ADD_ATTRIBUTE_NOT_FOUND = "Failed to add attribute, process not found"
ADD_ATTRIBUTE_NOT_RUNNING = "Failed to add attribute, process is not running"
GET_ATTRIBUTE_INVALID_JSON = "Failed to get attribute, invalid JSON"
GET_ATTRIBUTE_MSGTYPE = "Failed to get attribute, msg.MsgType does not match payloadType"
GET_ATTRIBUTE_MISSING = "Attribute does not exists"
ATTRIBUTE_DUPLICATE = 'pq: duplicate key value violates unique constraint "prod_attributes_pkey"'


def attribute_not_executor(executor_id: str) -> str:
    return f"Failed to add attribute, only executor with id <{executor_id}> is allowed to set attributes"


# --- channels (PROTOCOL.md 5.8 and 8) ----------------------------------------------------
APPEND_INVALID_JSON = "Failed to append to channel, invalid JSON"
APPEND_MSGTYPE = "Failed to append to channel, msg.MsgType does not match payloadType"
READ_INVALID_JSON = "Failed to read from channel, invalid JSON"
READ_MSGTYPE = "Failed to read from channel, msg.MsgType does not match payloadType"
PROCESS_NOT_FOUND = "Process not found"
CHANNEL_NOT_FOUND = "Channel not found"
TOO_MANY_CHANNELS = "process has too many channels"
PAYLOAD_TOO_LARGE = "message payload exceeds maximum size"
NOT_AUTHORIZED_WRITE = "Not authorized to write to channel"
NOT_AUTHORIZED_READ = "Not authorized to read from channel"
NOT_AUTHORIZED_SUBSCRIBE = "Not authorized to subscribe to channel"
RATE_LIMITED = "rate limit exceeded"
SUBSCRIBE_CHANNEL_MSGTYPE = "Failed to subscribe to channel, msg.MsgType does not match rpcMsg.PayloadType"

# --- process subscriptions (PROTOCOL.md 9.3 and 9.5) ---------------------------------------
SUBSCRIBE_PROCESS_MSGTYPE = "Failed to subscribe to process, msg.msgType does not match rpcMsg.PayloadType"
SUBSCRIBE_PROCESSES_MSGTYPE = "Failed to subscribe to processes, msg.msgType does not match rpcMsg.PayloadType"
SUBSCRIBE_PROCESSES_NO_EXECUTOR = "executor not found"


def invalid_process(process_id: str) -> str:
    return f"Invalid process with Id {process_id}"  # no angle brackets in this one


CHANNEL_FULL = "channel log is full"

# --- functions (pkg/server/handlers/function/handlers.go) ---------------------------------
ADD_FUNCTION_INVALID_JSON = "Failed to add function, invalid JSON"
ADD_FUNCTION_MSGTYPE = "Failed to add function, msg.MsgType does not match payloadType"
ADD_FUNCTION_NIL = "Failed to add function, msg.Function is nil"
ADD_FUNCTION_NOT_OWN = "Not allowed to add a function to another executor"
# PostgreSQL's text for a function id that is already stored (FUNCTION_ID is the primary key).
FUNCTION_DUPLICATE = 'pq: duplicate key value violates unique constraint "prod_functions_pkey"'
# "function", singular: the real getfunctionsmsg handler's texts.
GET_FUNCTIONS_INVALID_JSON = "Failed to get function, invalid JSON"
GET_FUNCTIONS_MSGTYPE = "Failed to get function, msg.MsgType does not match payloadType"
REMOVE_FUNCTION_INVALID_JSON = "Failed to remove function, invalid JSON"
REMOVE_FUNCTION_MSGTYPE = "Failed to remove function, msg.MsgType does not match payloadType"
REMOVE_FUNCTION_EMPTY_ID = "Failed to remove function, msg.FunctionID is empty"
REMOVE_FUNCTION_NOT_FOUND = "Failed to remove function, function does not exist"
REMOVE_FUNCTION_NOT_OWN = "Not allowed to remove a function from another executor"


def add_function_no_executor(executor: str) -> str:
    return f"Failed to add function, Executor with name <{executor}> does not exist"
