"""The `sqs` trigger (S3 notification → queue) end to end."""

from __future__ import annotations

import pytest
from e2e_support import Stack, check_trigger

pytestmark = pytest.mark.e2e
TRIGGER = "sqs"


def test_sqs_trigger_makes_reports_and_deletes(trigger_stack: Stack) -> None:
    check_trigger(trigger_stack)
