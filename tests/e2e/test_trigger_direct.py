"""The `direct` trigger (S3 → function): the runner plays S3's asynchronous invocation."""

from __future__ import annotations

import pytest
from e2e_support import Stack, check_trigger

pytestmark = pytest.mark.e2e
TRIGGER = "direct"


def test_direct_trigger_makes_reports_and_deletes(trigger_stack: Stack) -> None:
    assert trigger_stack.info.queue_url is None
    check_trigger(trigger_stack)
