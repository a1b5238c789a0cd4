"""The rollout harness: run agents against compiled MCP servers, score them, and write what trainers consume.

The harness talks to servers only through MCP (in memory, stdio or streamable
HTTP) and shares one contract with the rest of the project,
`mcpfactory.runtime`: the task model, the judge, the control-plane client and
the protocol constants. It never imports the compiler, the verifier or
synthesis. See docs/harness.md.
"""

from harness.connection import (
    Connection,
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
from harness.env import FAULT_TERMINATIONS, EpisodeConfig, Observation, StepResult, TaskEnv, Termination
from harness.episode import EpisodeJob, run_episode
from harness.errors import (
    ConnectionLost,
    ContextLengthExceeded,
    ControlError,
    HarnessError,
    InfraError,
    MalformedOutput,
    ModelError,
    RecordFileError,
    RunMismatch,
    TaskError,
    TaskFileError,
)
from harness.faults import FaultConfig
from harness.llm import LLMConfig
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
from harness.user import LiteLLMUser, ScriptedUser, UserSimulator

__all__ = [
    "FAULT_TERMINATIONS",
    "AssistantTurn",
    "Connection",
    "ConnectionLost",
    "ContextLengthExceeded",
    "ControlError",
    "Endpoint",
    "EpisodeConfig",
    "EpisodeJob",
    "FaultConfig",
    "HarnessError",
    "HttpEndpoint",
    "InfraError",
    "LLMConfig",
    "LiteLLMPolicy",
    "LiteLLMUser",
    "MalformedOutput",
    "MemoryEndpoint",
    "ModelError",
    "Observation",
    "OraclePolicy",
    "Policy",
    "PolicySpec",
    "PolicyView",
    "RandomPolicy",
    "RecordFileError",
    "RecordWriter",
    "ReplayPolicy",
    "Reward",
    "RewardConfig",
    "RunConfig",
    "RunMismatch",
    "RunSummary",
    "Runner",
    "ScriptedUser",
    "StdioEndpoint",
    "StepResult",
    "TaskEnv",
    "TaskError",
    "TaskFileError",
    "Termination",
    "TokenData",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "UserSimulator",
    "latest_records",
    "open_endpoint",
    "read_records",
    "run_episode",
    "spawn_http_server",
]
