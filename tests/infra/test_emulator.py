"""The moto server wrapper: loopback only, detachable, and stopped without leftovers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from thumbnailer.errors import ConfigError
from thumbnailer.local.emulator import MotoServer, stop_detached


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_server_answers_on_loopback_and_stops(tmp_path: Path) -> None:
    with MotoServer(state_dir=tmp_path) as server:
        assert server.endpoint.startswith("http://127.0.0.1:")
        s3 = boto3.client("s3", **server.client_kwargs())
        s3.create_bucket(Bucket="emulated")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["emulated"]
        pid = server.pid
        assert pid is not None
        state = json.loads((tmp_path / "emulator.json").read_text())
        assert state == {"pid": pid, "endpoint": server.endpoint, "port": server.port}
    assert not (tmp_path / "emulator.json").exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left


def test_taken_port_is_refused(moto_server: MotoServer) -> None:
    with pytest.raises(ConfigError) as caught:
        MotoServer(port=moto_server.port).start()
    assert "already in use" in caught.value.message


def test_detached_server_is_stopped_from_its_state_folder(tmp_path: Path) -> None:
    server = MotoServer(state_dir=tmp_path)
    server.start(detach=True)
    pid = server.pid
    assert pid is not None and _alive(pid)
    assert stop_detached(tmp_path) is True
    assert not (tmp_path / "emulator.json").exists()
    assert stop_detached(tmp_path) is False  # nothing left to stop
    server.stop()  # reaps our child; a no-op for the already stopped server
    assert not _alive(pid)
