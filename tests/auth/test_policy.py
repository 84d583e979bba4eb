"""The access policy: the one decision point the guard asks (pure, no I/O)."""

from __future__ import annotations

from src.auth.policy import Policy, Requirement, Resource
from src.auth.roles import Principal, Role
from src.errors import ErrorCode

ADMIN_ONLY = Requirement(Role.ADMIN)


def test_no_caller_is_unauthenticated() -> None:
    decision = Policy().decide(None, ADMIN_ONLY)
    assert not decision.allowed and decision.error is not None
    assert decision.error.code is ErrorCode.UNAUTHENTICATED


def test_a_role_below_the_requirement_is_forbidden_and_says_why() -> None:
    decision = Policy().decide(Principal("v", Role.VIEWER), ADMIN_ONLY)
    assert decision.error is not None and decision.error.code is ErrorCode.FORBIDDEN
    assert decision.error.message == "requires role admin; you have viewer"


def test_the_role_and_those_above_it_are_allowed_on_any_resource() -> None:
    policy = Policy()
    on_a_queue = Resource(queues=("ai_analysis",), workers=None)
    for role in (Role.ADMIN, Role.SUPER_ADMIN):
        decision = policy.decide(Principal("a", role), ADMIN_ONLY, on_a_queue)
        assert decision.allowed and decision.error is None
