"""The rollout harness: run agents against compiled MCP servers, score them, and write what trainers consume.

The harness talks to servers only through MCP (in memory, stdio or streamable
HTTP) and reads tasks as data; it never imports `mcpfactory`. See
docs/harness.md.
"""

from harness.connection import (
    Connection,
    ControlError,
    Endpoint,
    HttpEndpoint,
    MemoryEndpoint,
    StdioEndpoint,
    ToolResult,
    ToolSpec,
    open_endpoint,
    spawn_http_server,
)
from harness.conversation import AssistantTurn, TokenData, ToolCall
from harness.episode import FAULT_TERMINATIONS, EpisodeConfig, EpisodeJob, Termination, run_episode
from harness.errors import (
    ConnectionLost,
    HarnessError,
    InfraError,
    MalformedOutput,
    ModelError,
    PolicyError,
    RecordFileError,
    TaskFileError,
)
from harness.faults import FaultConfig
from harness.policies import (
    LiteLLMPolicy,
    OraclePolicy,
    Policy,
    PolicySpec,
    PolicyView,
    RandomPolicy,
    ReplayPolicy,
)
from harness.records import RecordWriter, latest_records, read_records
from harness.reward import Reward, RewardConfig
from harness.runner import RunConfig, Runner, RunSummary
from harness.tasks import Task, catalog_envs, env_tasks, load_tasks
from harness.user import LiteLLMUser, UserSimulator

__all__ = [
    "FAULT_TERMINATIONS",
    "AssistantTurn",
    "Connection",
    "ConnectionLost",
    "ControlError",
    "Endpoint",
    "EpisodeConfig",
    "EpisodeJob",
    "FaultConfig",
    "HarnessError",
    "HttpEndpoint",
    "InfraError",
    "LiteLLMPolicy",
    "LiteLLMUser",
    "MalformedOutput",
    "MemoryEndpoint",
    "ModelError",
    "OraclePolicy",
    "Policy",
    "PolicyError",
    "PolicySpec",
    "PolicyView",
    "RandomPolicy",
    "RecordFileError",
    "RecordWriter",
    "ReplayPolicy",
    "Reward",
    "RewardConfig",
    "RunConfig",
    "RunSummary",
    "Runner",
    "StdioEndpoint",
    "Task",
    "TaskFileError",
    "Termination",
    "TokenData",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "UserSimulator",
    "catalog_envs",
    "env_tasks",
    "latest_records",
    "load_tasks",
    "open_endpoint",
    "read_records",
    "run_episode",
    "spawn_http_server",
]
