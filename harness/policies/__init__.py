"""Policies: what produces the agent's turns (a model through litellm, the oracle, random calls, a replay)."""

from harness.policies.base import Policy, PolicySpec, PolicyView
from harness.policies.llm import LiteLLMPolicy
from harness.policies.oracle import OraclePolicy
from harness.policies.random import RandomPolicy, random_arguments
from harness.policies.replay import ReplayPolicy
from harness.policies.trivial import TRIVIAL_KINDS, TrivialPolicy

__all__ = [
    "TRIVIAL_KINDS",
    "LiteLLMPolicy",
    "OraclePolicy",
    "Policy",
    "PolicySpec",
    "PolicyView",
    "RandomPolicy",
    "ReplayPolicy",
    "TrivialPolicy",
    "random_arguments",
]
