"""The emulator's readiness probe answers in every state; a busy port is named as such."""

from __future__ import annotations

import io
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from thumbnailer.errors import ConfigError
from thumbnailer.local import emulator
from thumbnailer.local.emulator import HOST, MotoServer, stop_detached


def _add_function(server: MotoServer) -> None:
    # Once a function exists, moto's /moto-api/data.json answers 500 (it asks for Docker).
    kwargs = server.client_kwargs()
    role = boto3.client("iam", **kwargs).create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("h.py", "def h(event, context):\n    return 1\n")
    boto3.client("lambda", **kwargs).create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="h.h",
        Code={"ZipFile": code.getvalue()},
    )


@pytest.fixture
def server_with_a_function() -> Iterator[MotoServer]:
    with MotoServer() as server:
        _add_function(server)
        yield server


def test_the_probe_answers_once_a_function_exists(server_with_a_function: MotoServer) -> None:
    assert emulator._answers(server_with_a_function.endpoint)


def test_the_port_of_a_running_stack_is_reported_in_use(
    server_with_a_function: MotoServer,
) -> None:
    second = MotoServer(port=server_with_a_function.port)
    try:
        with pytest.raises(ConfigError) as caught:
            second.start()
    finally:
        second.stop()
    assert "already in use" in caught.value.message


def test_a_port_taken_by_anything_else_is_reported_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        sock.listen()
        second = MotoServer(port=sock.getsockname()[1])
        try:
            with pytest.raises(ConfigError) as caught:
                second.start()
        finally:
            second.stop()
    assert "already in use" in caught.value.message


def test_a_detached_server_holding_a_function_is_stopped(tmp_path: Path) -> None:
    server = MotoServer(state_dir=tmp_path)
    server.start(detach=True)
    try:
        _add_function(server)
        assert stop_detached(tmp_path) is True
        assert not (tmp_path / "emulator.json").exists()
    finally:
        server.stop()


@pytest.mark.parametrize("port", [-1, 65536, 99999])
def test_a_port_out_of_range_is_refused(port: int) -> None:
    server = MotoServer(port=port)
    try:
        with pytest.raises(ConfigError, match="65535"):
            server.start()
    finally:
        server.stop()
