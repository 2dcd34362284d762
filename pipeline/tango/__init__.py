"""Tango's RaaS v2 API: the client and its one retry policy, Tango's answers in the pipeline's
words, and the one place that builds a client for a target."""

from pipeline.tango.answers import PostResult, delivery_final, line_errors, line_state, order_final
from pipeline.tango.client import OnResponse, TangoClient
from pipeline.tango.pacing import RateLimiter

__all__ = ["OnResponse", "PostResult", "RateLimiter", "TangoClient", "delivery_final", "line_errors", "line_state",
           "order_final"]
