"""The production app's AWS clients, as the Lambda builds them from its environment."""

from __future__ import annotations

from typing import Any, cast

from lambda_helpers import DST, RECIPIENT, SENDER, SRC, Stack, s3_event
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from thumbnailer import aws_lambda
from thumbnailer.reporting import Reporter

RETRIES = {"mode": "adaptive", "total_max_attempts": 7}


def production_app(stack: Stack) -> aws_lambda.App:
    return aws_lambda.build_app(
        {
            "THUMBNAILER_SOURCE_BUCKET": SRC,
            "THUMBNAILER_DESTINATION_BUCKET": DST,
            "THUMBNAILER_RETRY_MODE": "adaptive",
            "THUMBNAILER_MAX_ATTEMPTS": "7",
            "THUMBNAILER_SNS_TOPIC_ARN": stack.topic_arn,
            "THUMBNAILER_SES_SENDER": SENDER,
            "THUMBNAILER_SES_RECIPIENTS": RECIPIENT,
            "THUMBNAILER_EVENT_BUS_NAME": "thumbnails",
        }
    )


def retries(client: Any) -> dict[str, Any]:
    return dict(client.meta.config.retries)


class TestRetrySettings:
    def test_every_client_gets_the_retry_mode_and_attempts(self, stack: Stack) -> None:
        obj = stack.upload("broken.jpg", b"not an image")
        app = production_app(stack)
        # A permanent failure goes through every channel, so each client is built the way
        # the function builds it, by the call that needs it.
        result = app.handle(s3_event("s3-object-created-put.json", "broken.jpg", **obj))
        assert result["failed"] == 1
        assert len(stack.messages(stack.topic_queue_url)) == 1
        assert len(stack.messages(stack.bus_queue_url)) == 1
        assert len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages) == 1

        store = app.pipeline.store
        assert retries(store.client) == RETRIES  # type: ignore[attr-defined]
        reporter = cast(Reporter, app.pipeline.reporter)
        clients = reporter._clients
        assert sorted(clients) == ["events", "ses", "sns"]
        for name, client in clients.items():
            assert (name, retries(client)) == (name, RETRIES)

    def test_the_defaults_are_standard_with_three_attempts(self, stack: Stack) -> None:
        app = aws_lambda.build_app({"THUMBNAILER_DESTINATION_BUCKET": DST})
        assert retries(app.pipeline.store.client) == {  # type: ignore[attr-defined]
            "mode": "standard",
            "total_max_attempts": 3,
        }
