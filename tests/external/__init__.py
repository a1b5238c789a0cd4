"""Tests that drive compiled servers with clients nobody here wrote (see docs/conformance.md)."""
