"""`auditplan simulate`: a simulated fleet in the foreground, with the hosts CSV and credentials file
that `auditplan survey` reads (the demo, cli/demo.py, starts the same fleet in-process)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import click

from auditplan.cli import main
from auditplan.safe_write import UnsafePathError
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.runner import AUTH_MODES, run_fleet


def load_profiles(fleet_file: Path | None) -> list[HostProfile]:
    from auditplan.simulator import fleet as fleet_module

    try:
        loaded = fleet_module.load_fleet(fleet_file) if fleet_file is not None else fleet_module.demo_fleet()
    except fleet_module.FleetError as exc:
        raise click.UsageError(str(exc)) from None
    return list(loaded.profiles)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve_fleet(profiles: Sequence[HostProfile], work_dir: Path, *, source: str, auth: str, http: bool,
                hosts_out: Path, credentials_out: Path, password: str | None = None, replay_answers: bool = False,
                until: Callable[[], object] | None = None) -> None:
    """Serve `profiles` on loopback, say so on stderr, wait in `until()` (`simulate`: until Ctrl-C or
    SIGTERM), stop. What the loader accepts must serve; what the system still refuses (an address or
    port in use, a planted link at an output path) is a UsageError naming `source` (exit 2, one line)."""
    try:
        with run_fleet(
            profiles, work_dir, auth=auth, https=not http, hosts_out=hosts_out,
            credentials_out=credentials_out, password=password, replay_answers=replay_answers,
        ) as fleet:
            click.echo(
                f"serving {len(fleet.profiles)} simulated hosts ({auth} over {fleet.scheme}); "
                f"hosts: {hosts_out}; credentials: {credentials_out}",
                err=True,
            )
            click.echo("ready", err=True)
            (until or threading.Event().wait)()
    except UnsafePathError as exc:  # --hosts-out/--credentials-out/--work-dir: a planted link
        raise click.UsageError(str(exc)) from None
    except OSError as exc:  # FleetServer names the host, address and port it could not listen on
        raise click.UsageError(f"{source}: cannot serve the fleet: {' '.join(str(exc).split())}") from None


@main.command(renamed={"--auth": "--transport"})
@click.option("--fleet", "fleet_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Fleet TOML (docs/fleet-toml.md). Default: the built-in demo fleet.")
@click.option("--hosts-out", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("auditplan-out/sim-hosts.csv"), show_default=True,
              help="Where to write the hosts CSV (host,address,port,role,site) that `survey` accepts as is.")
@click.option("--credentials-out", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("auditplan-out/sim-credentials.json"), show_default=True,
              help="Where to write the JSON with username, password, transport, scheme, ca_bundle (mode 0600); "
                   "pass it to `survey --credentials`.")
@click.option("--transport", "auth", type=click.Choice(AUTH_MODES), default="ntlm", show_default=True,
              help="Authentication the simulated hosts accept (as `survey --transport`).")
@click.option("--http", "http", is_flag=True,
              help="Serve plain HTTP instead of HTTPS (Basic then needs `survey --allow-basic-over-http`).")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the generated CA and certificates go. Default: a temporary directory.")
@click.option("--password-env", metavar="VAR",
              help="Use the password in this environment variable for the fleet account instead of a random one.")
# Benchmarks only (bench/survey_overhead.py): every host replays the first answer to a command, so
# the simulator's CPU does not hide the client's. Hidden: the hosts then all answer as the first one.
@click.option("--replay-answers", is_flag=True, hidden=True)
def simulate(
    fleet_file: Path | None,
    hosts_out: Path,
    credentials_out: Path,
    auth: str,
    http: bool,
    work_dir: Path | None,
    password_env: str | None,
    replay_answers: bool,
) -> None:
    """Run a simulated Windows fleet on loopback until Ctrl-C (or SIGTERM).

    Each host listens on its own 127.0.0.x address. Survey it from another shell with:

    \b
      auditplan survey auditplan-out/sim-hosts.csv --credentials auditplan-out/sim-credentials.json
    """
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise click.UsageError(f"--password-env {password_env}: that environment variable is not set")
    if auth == "certificate" and http:
        raise click.UsageError("certificate auth needs HTTPS; drop --http")
    profiles = load_profiles(fleet_file)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with tempfile.TemporaryDirectory(prefix="auditplan-sim-") as tmp:
        try:
            serve_fleet(profiles, work_dir or Path(tmp), source=str(fleet_file or "the demo fleet"), auth=auth,
                        http=http, hosts_out=hosts_out, credentials_out=credentials_out, password=password,
                        replay_answers=replay_answers)
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
