"""A small wrapper around the ``terraform`` binary.

It writes the project's own CLI configuration (so nothing in ``~/.terraformrc`` or a stale
``TF_CLI_CONFIG_FILE`` is needed): a provider filesystem mirror when one is found, with
``direct {}`` as the fallback, and the public registry otherwise, as real users have it. Then
it runs ``init`` / ``validate`` / ``apply`` / ``destroy`` / ``output -json`` in a given working
directory with its own data directory, state file and variables, mapping failures to
:class:`TerraformError` with Terraform's own message.

Each run is a process group of its own (Terraform and its provider plugins): a Ctrl-C meant
for the caller does not halt it half-way, and an interrupted or timed-out run stops the whole
group, providers included. With ``process_file`` the group is recorded there while it runs,
so that it can be stopped from outside when its caller was killed.

``python -m thumbnailer.local.terraform [PATH]`` writes the same CLI configuration for running
``terraform`` by hand (default ``.cache/terraform/terraformrc``) and prints the ``export`` line
that uses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from thumbnailer.errors import ConfigError, TerraformError
from thumbnailer.local.state import kill_group, process_record, read_json, write_json

__all__ = [
    "MIRROR_ENV",
    "Terraform",
    "TerraformError",
    "find_plugin_mirror",
    "main",
    "stage_infra",
    "write_cli_config",
]

MIRROR_ENV = "THUMBNAILER_TF_PLUGIN_MIRROR"
# The provider we need; a mirror counts only if it holds this one.
_PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
_MESSAGE_TAIL = 4000  # characters of Terraform's output kept in an error message


def _conventional_plugin_dirs(environ: Mapping[str, str]) -> list[Path]:
    # The implied local mirror directories Terraform itself searches on Unix.
    home = Path(environ.get("HOME", str(Path.home())))
    data_home = Path(environ.get("XDG_DATA_HOME", str(home / ".local" / "share")))
    dirs = [home / ".terraform.d" / "plugins", data_home / "terraform" / "plugins"]
    data_dirs = environ.get("XDG_DATA_DIRS", "/usr/local/share:/usr/share")
    dirs += [Path(d) / "terraform" / "plugins" for d in data_dirs.split(":") if d]
    return dirs


def _holds_provider(path: Path) -> bool:
    try:
        return (path / _PROVIDER).is_dir()
    except OSError:
        return False


def find_plugin_mirror(
    environ: Mapping[str, str] | None = None, search_roots: Sequence[Path] = (Path("/opt"),)
) -> Path | None:
    """Return a provider filesystem mirror holding ``hashicorp/aws``, or ``None``.

    Looked up in order: ``$THUMBNAILER_TF_PLUGIN_MIRROR`` (an error if it is set but holds no
    provider), Terraform's conventional plugin directories, then two levels under each of
    ``search_roots`` (shallow on purpose: this runs on every command).
    """
    env = os.environ if environ is None else environ
    override = env.get(MIRROR_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
        if not _holds_provider(path):
            raise ConfigError(f"{MIRROR_ENV}={override!r} holds no {_PROVIDER.as_posix()} provider")
        return path
    for path in _conventional_plugin_dirs(env):
        if _holds_provider(path):
            return path
    for root in search_roots:
        candidates = [root]
        for _ in range(2):
            children: list[Path] = []
            for parent in candidates:
                try:
                    children += sorted(p for p in parent.iterdir() if p.is_dir())
                except OSError:
                    continue
            for child in children:
                if _holds_provider(child):
                    return child
            candidates = children
    return None


def _mirrored_providers(mirror: Path) -> list[str]:
    # Unpacked mirror layout: HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/...
    return sorted("/".join(p.relative_to(mirror).parts) for p in mirror.glob("*/*/*") if p.is_dir())


def write_cli_config(path: Path, mirror: Path | None, plugin_cache: Path | None = None) -> Path:
    """Write a Terraform CLI configuration file to ``path`` and return it.

    With a ``mirror``, providers are taken from it when present there and from their registry
    otherwise (``direct {}``); without one, Terraform's defaults apply. ``plugin_cache`` keeps
    downloaded providers across working directories.
    """
    lines: list[str] = []
    if plugin_cache is not None:
        plugin_cache.mkdir(parents=True, exist_ok=True)
        lines.append(f"plugin_cache_dir = {json.dumps(str(plugin_cache))}")
    if mirror is not None:
        # Providers the mirror holds come only from it (so no network lookup is made for them);
        # everything else comes from its registry.
        held = json.dumps(_mirrored_providers(mirror))
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f"    path    = {json.dumps(str(mirror))}",
            f"    include = {held}",
            "  }",
            "  direct {",
            f"    exclude = {held}",
            "  }",
            "}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def stage_infra(infra_root: Path, destination: Path) -> Path:
    """Copy the ``infra/`` tree to ``destination`` and return the copy.

    Terraform writes ``.terraform.lock.hcl`` into the root module it runs in; a private copy
    keeps the checkout clean and lets several stacks run side by side.
    """
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(
        infra_root,
        destination,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"),
    )
    return destination


@dataclass
class Terraform:
    """Runs Terraform in ``working_dir`` with its own data directory and state file.

    ``cache_dir`` holds the generated CLI configuration and the provider cache;
    ``process_file`` (optional) records the running Terraform's process group.
    """

    working_dir: Path
    data_dir: Path
    state_file: Path
    cache_dir: Path
    binary: str = "terraform"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    mirror: Path | None = None
    process_file: Path | None = None
    NOT_FOUND_HINT: ClassVar[str] = (
        "install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)"
    )

    def __post_init__(self) -> None:
        if shutil.which(self.binary) is None:
            raise ConfigError(f"{self.binary!r} not found on PATH: {self.NOT_FOUND_HINT}")
        if self.mirror is None:
            self.mirror = find_plugin_mirror()
        self.cli_config = write_cli_config(
            self.cache_dir / "terraformrc",
            self.mirror,
            # A filesystem mirror is already local; caching from it would only copy files.
            plugin_cache=None if self.mirror else self.cache_dir / "plugin-cache",
        )

    def env(self) -> dict[str, str]:
        """The environment Terraform runs with."""
        return {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_DATA_DIR": str(self.data_dir),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            **self.extra_env,
        }

    def run(self, *args: str, timeout: float = 900) -> str:
        """Run ``terraform ARGS`` and return its standard output; raise on failure."""
        command = [self.binary, f"-chdir={self.working_dir}", *args]
        try:
            process = subprocess.Popen(
                command,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConfigError(f"cannot run {self.binary!r}: {exc}") from exc
        if self.process_file is not None:
            write_json(self.process_file, process_record(process.pid, command=args[0]))
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            # What Terraform printed before it was stopped says which resource it waited on.
            text = self._stop(process)
            raise TerraformError(
                f"terraform {args[0]} timed out after {timeout:.0f}s in {self.working_dir}; "
                f"its last output:\n{text.strip()[-_MESSAGE_TAIL:]}"
            ) from exc
        except BaseException:
            self._stop(process)  # interrupted: Terraform and its providers go too
            raise
        finally:
            self._forget(process.pid)
        if process.returncode != 0:
            detail = (stderr.strip() or stdout.strip())[-_MESSAGE_TAIL:]
            raise TerraformError(f"terraform {args[0]} failed in {self.working_dir}:\n{detail}")
        return stdout

    def _stop(self, process: subprocess.Popen[str]) -> str:
        """Stop the run's process group; return what it printed on standard output."""
        kill_group(process.pid, timeout=5)
        try:
            stdout, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            # A descendant that left the group still holds the pipe: stop waiting for it.
            with contextlib.suppress(OSError):
                process.kill()
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
            process.wait()
            return ""
        return stdout or ""

    def _forget(self, pid: int) -> None:
        if self.process_file is not None and read_json(self.process_file).get("pid") == pid:
            self.process_file.unlink(missing_ok=True)

    def init(self) -> None:
        """``terraform init`` (no backend configuration: state stays local)."""
        self.run("init", "-no-color", "-input=false")

    def validate(self) -> None:
        """``terraform validate``."""
        self.run("validate", "-no-color")

    def _var_args(self, var_file: Path | None, variables: Mapping[str, Any] | None) -> list[str]:
        args = [f"-state={self.state_file}"]
        if var_file is not None:
            args.append(f"-var-file={var_file}")
        for name, value in (variables or {}).items():
            text = value if isinstance(value, str) else json.dumps(value)
            args.append(f"-var={name}={text}")
        return args

    def apply(
        self,
        var_file: Path | None = None,
        variables: Mapping[str, Any] | None = None,
        parallelism: int = 10,
    ) -> None:
        """``terraform apply -auto-approve`` with the given variables."""
        self.run(
            "apply",
            "-no-color",
            "-input=false",
            "-auto-approve",
            f"-parallelism={parallelism}",
            *self._var_args(var_file, variables),
        )

    def destroy(
        self,
        var_file: Path | None = None,
        variables: Mapping[str, Any] | None = None,
        parallelism: int = 10,
        timeout: float = 900,
    ) -> None:
        """``terraform destroy -auto-approve`` with the same variables as the apply."""
        self.run(
            "destroy",
            "-no-color",
            "-input=false",
            "-auto-approve",
            f"-parallelism={parallelism}",
            *self._var_args(var_file, variables),
            timeout=timeout,
        )

    def output(self) -> dict[str, Any]:
        """The root module's outputs as ``{name: value}`` (``terraform output -json``)."""
        text = self.run("output", "-no-color", "-json", f"-state={self.state_file}")
        try:
            raw = json.loads(text or "{}")
        except ValueError as exc:
            raise TerraformError(f"terraform output printed invalid JSON: {exc}") from exc
        return {name: entry["value"] for name, entry in raw.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Write the CLI configuration to ``argv[0]`` (or the default) and print its ``export`` line.

    Exit status 2 when ``$THUMBNAILER_TF_PLUGIN_MIRROR`` names a folder without the provider.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0] if args else ".cache/terraform/terraformrc").resolve()
    try:
        mirror = find_plugin_mirror()
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    write_cli_config(path, mirror, plugin_cache=None if mirror else path.parent / "plugin-cache")
    source = f"the mirror {mirror}" if mirror else "the public registry"
    print(f"# providers come from {source}", file=sys.stderr)
    print(f"export TF_CLI_CONFIG_FILE={shlex.quote(str(path))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
