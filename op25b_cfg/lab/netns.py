"""The network-namespace lab: a Linux BRAS with real sshd and nftables between subscribers and mail servers.

Topology (every name carries the lab's prefix; ``op25b-lab-`` for ``op25b lab up``, a per-run prefix for
tests)::

    subscriber  eth0 100.64.1.10/24  2001:db8:8000:1::10/64 ----- ppp0 .1 / ::1 ┐
    exempt      eth0 100.64.200.5/24 2001:db8:8000:4711::5/64 --- ppp1 .1 / ::1 ┤
                                                                               bras (forwarding, nftables, sshd)
    isp-mta     eth0 192.0.2.25/24   2001:db8:25::25/64 -------- mta0 .1 / ::1 ┤
    external    eth0 198.51.100.25/24 2001:db8:ffff::25/64 ----- ext0 .1 / ::1 ┤ (targeted foreign MX)
                     203.0.113.25/24  2001:db8:eeee::25/64               ...   ┤ (non-targeted foreign MX)
    root ns     <mgmt if> 10.x.y.1/30 -------------------------- mgmt0 10.x.y.2 ┘ sshd :22

``isp-mta`` and ``external`` run :mod:`op25b_cfg.lab.smtp` listeners on 25 and 587. The addresses match
the bundled ``inventory/policy.yaml``: subscriber in DYN-TOKYO / DYN-V6, exempt in ACME-STATIC and the
cust-4711-v6 opt-out, the ISP MTAs, and a targeted and a non-targeted foreign MX.

sshd runs in the bras namespace inside a private mount namespace in which ``/etc/passwd`` and
``/etc/shadow`` are bind-mounted copies holding only ``root`` and ``op25b`` (both with one random lab
password), the sshd privilege-separation user and nobody; ``/etc/sudoers`` (if sudo is installed) is a copy
giving ``op25b`` passwordless sudo; wtmp/lastlog/btmp are bind-mounted scratch files. The machine's real accounts,
passwords and login records are never read or changed. Nothing is listened on outside the namespaces
except through the management veth, whose root-namespace end is the only interface the lab adds there.

Everything the lab creates is recorded in ``<workdir>/state.json`` before it is created, so :meth:`Lab.down`
(or ``op25b lab down`` in a later process) removes exactly that, even after a half-finished ``up``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import logging
import os
import secrets
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from op25b_cfg.errors import Op25bError

log = logging.getLogger(__name__)

CLI_PREFIX = "op25b-lab-"
CLI_WORKDIR = Path("/run/op25b-lab")
STATE_FILE = "state.json"
SSHD = "/usr/sbin/sshd"

# ---------------------------------------------------------------- address plan

SUBSCRIBER_V4 = "100.64.1.10"
SUBSCRIBER_V6 = "2001:db8:8000:1::10"
EXEMPT_V4 = "100.64.200.5"
EXEMPT_V6 = "2001:db8:8000:4711::5"
ISP_MTA_V4 = "192.0.2.25"
ISP_MTA_V6 = "2001:db8:25::25"
EXTERNAL_V4 = "198.51.100.25"  # inside the policy's targeted list
EXTERNAL_V6 = "2001:db8:ffff::25"
OTHER_EXTERNAL_V4 = "203.0.113.25"  # outside the targeted list
OTHER_EXTERNAL_V6 = "2001:db8:eeee::25"
SMTP_PORTS = (25, 587)
OPERATOR = "op25b"
"""A second lab login that is not root: nft through passwordless sudo (where sudo is installed)."""
OPERATOR_UID = 64025
NOGROUP = 65534
SUBSCRIBER_IFACES = "ppp*"
"""The bras's subscriber-facing interfaces (ppp0, ppp1), as an nft-forward attachment."""

_ROLES = ("bras", "subscriber", "exempt", "isp-mta", "external")

# (bras interface, peer namespace role, [(peer address/len, bras address/len), ...])
_LINKS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "ppp0",
        "subscriber",
        ((f"{SUBSCRIBER_V4}/24", "100.64.1.1/24"), (f"{SUBSCRIBER_V6}/64", "2001:db8:8000:1::1/64")),
    ),
    ("ppp1", "exempt", ((f"{EXEMPT_V4}/24", "100.64.200.1/24"), (f"{EXEMPT_V6}/64", "2001:db8:8000:4711::1/64"))),
    ("mta0", "isp-mta", ((f"{ISP_MTA_V4}/24", "192.0.2.1/24"), (f"{ISP_MTA_V6}/64", "2001:db8:25::1/64"))),
    (
        "ext0",
        "external",
        (
            (f"{EXTERNAL_V4}/24", "198.51.100.1/24"),
            (f"{EXTERNAL_V6}/64", "2001:db8:ffff::1/64"),
            (f"{OTHER_EXTERNAL_V4}/24", "203.0.113.1/24"),
            (f"{OTHER_EXTERNAL_V6}/64", "2001:db8:eeee::1/64"),
        ),
    ),
)

HOST_FIREWALL = """\
table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 counter accept comment "the host's own firewall: management ssh"
	}
}
"""
"""A pre-existing table in the bras, standing for the host's own firewall, that a push must never touch."""

_counter = itertools.count()


class LabError(Op25bError):
    """The lab could not be built or torn down (missing tool, not root, a command failed)."""


def _run(argv: list[str], *, check: bool = True, timeout: float = 30.0, input_: str | None = None) -> str:
    """Run a command; raise LabError naming it (and its stderr) when it fails."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"lab command {' '.join(argv)!r} could not run: {exc}") from None
    if check and proc.returncode != 0:
        raise LabError(f"lab command {' '.join(argv)!r} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _used_v4_networks() -> list[ipaddress.IPv4Network]:
    """IPv4 networks already routed or addressed in the root namespace."""
    nets = []
    for argv in (["ip", "-j", "-4", "route", "show", "table", "all"], ["ip", "-j", "-4", "addr", "show"]):
        try:
            data = json.loads(_run(argv, check=False) or "[]")
        except json.JSONDecodeError:
            continue
        for entry in data:
            items = [entry.get("dst")] + [f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])]
            for item in items:
                if not item or item == "default":
                    continue
                with contextlib.suppress(ValueError):
                    nets.append(ipaddress.IPv4Network(item, strict=False))
    return nets


def pick_mgmt_subnet(seed: int, preferred: str | None = None) -> ipaddress.IPv4Network:
    """A /30 for the management veth, from 10.254.0.0/15, not overlapping anything in the root namespace."""
    used = _used_v4_networks()
    pool = ipaddress.IPv4Network("10.254.0.0/15")
    count = pool.num_addresses // 4
    candidates: list[ipaddress.IPv4Network] = [ipaddress.IPv4Network(preferred)] if preferred else []
    start = seed % count
    for i in range(count):
        n = (start + i) % count
        candidates.append(ipaddress.IPv4Network((int(pool.network_address) + 4 * n, 30)))
        if len(candidates) > 64:
            break
    for net in candidates:
        if not any(net.overlaps(u) for u in used):
            return net
    raise LabError("no free /30 for the lab management link in 10.254.0.0/15. Fix: remove stale lab links")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Lab:
    """One namespace lab. Build with :meth:`up` (or :func:`running_lab`), remove with :meth:`down`."""

    prefix: str
    workdir: Path
    mgmt_if: str
    mgmt_host_ip: str = ""
    mgmt_bras_ip: str = ""
    ssh_port: int = 22
    username: str = "root"
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    owns_workdir: bool = True

    # ------------------------------------------------------------ naming and files

    @classmethod
    def for_tests(cls) -> Lab:
        """A lab with names unique to this process and call (pid + counter), in a fresh temp directory."""
        n = next(_counter)
        tag = f"{os.getpid()}x{n}"
        workdir = Path(tempfile.mkdtemp(prefix=f"op25b-lab-{tag}-"))
        return cls(prefix=f"op25b-t{tag}-", workdir=workdir, mgmt_if=f"o25m{tag}"[:15])

    @classmethod
    def for_cli(cls, workdir: Path = CLI_WORKDIR, prefix: str = CLI_PREFIX) -> Lab:
        """The lab of ``op25b lab up``: fixed names ``op25b-lab-*`` and a fixed state directory (tests of the
        command give their own prefix and workdir)."""
        mgmt = "op25b-lab-m" if prefix == CLI_PREFIX else f"o25c{os.getpid()}"[:15]
        return cls(prefix=prefix, workdir=workdir, mgmt_if=mgmt, owns_workdir=True)

    @classmethod
    def load(cls, workdir: Path) -> Lab | None:
        """The lab recorded in ``workdir/state.json``, or None."""
        try:
            data = json.loads((workdir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        data["workdir"] = Path(data["workdir"])
        return cls(**data)

    def ns(self, role: str) -> str:
        """The namespace name of a role (bras, subscriber, exempt, isp-mta, external)."""
        return f"{self.prefix}{role}"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def password_file(self) -> Path:
        return self.workdir / "password"

    @property
    def inventory_dir(self) -> Path:
        return self.workdir / "inventory"

    def password(self) -> str:
        """The lab's root password (random per lab; only valid for the lab's sshd)."""
        return self.password_file.read_text(encoding="utf-8").strip()

    def _save(self) -> None:
        data = asdict(self)
        data["workdir"] = str(self.workdir)
        tmp = self.workdir / f"{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(self.workdir / STATE_FILE)

    # ------------------------------------------------------------ running things inside

    def exec(self, role: str, argv: list[str], *, check: bool = True, timeout: float = 30.0) -> str:
        """Run ``argv`` inside a lab namespace; its stdout."""
        return _run(["ip", "netns", "exec", self.ns(role), *argv], check=check, timeout=timeout)

    def nft(self, *args: str, input_: str | None = None, check: bool = True) -> str:
        """Run ``nft`` in the bras directly (not through SSH): for tests to verify or reset state."""
        return _run(["ip", "netns", "exec", self.ns("bras"), "nft", *args], check=check, input_=input_)

    def op25b_table(self) -> str:
        """``nft list table inet op25b`` in the bras, or '' when there is none."""
        # one nft call: a revert job may delete the table at any moment, so "is it there?" and "list it" must
        # not be two calls (nft fails with 'No such file or directory' and prints nothing when it is gone)
        return self.nft("list", "table", "inet", "op25b", check=False)

    def reset_bras(self) -> None:
        """Delete the op25b table (if any) and stop revert timers left by sessions, leaving the host firewall."""
        for pid in self._ns_pids("bras"):
            if pid == self.pids.get("sshd"):
                continue
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"op25b" in cmd and b"revert" in cmd:
                    os.killpg(pid, signal.SIGKILL)  # the timer is a session leader: sh and its sleep
        self.nft("-f", "-", input_="table inet op25b\ndelete table inet op25b\n")

    def smtp(self, role: str, *args: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Run an SMTP probe (:mod:`op25b_cfg.lab.smtp` ``probe``/``hold``) from a namespace; the attempts."""
        out = self.exec(role, [sys.executable, "-m", "op25b_cfg.lab.smtp", *args], timeout=timeout)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def deliver(self, host: str, port: int, *, src: str = "subscriber", count: int = 1) -> list[str]:
        """Full SMTP transactions from ``src`` to host:port, back to back; the result of each."""
        return [a["result"] for a in self.smtp(src, "probe", host, str(port), "--count", str(count))]

    def deliver_many(self, targets: list[tuple[str, int]], *, src: str = "subscriber") -> dict[tuple[str, int], str]:
        """One SMTP transaction from ``src`` to each (host, port), in one probe process; the result of each."""
        args = [str(x) for t in targets for x in t]
        return {(a["host"], a["port"]): a["result"] for a in self.smtp(src, "probe", *args)}

    # ------------------------------------------------------------ build

    def up(self) -> Lab:
        """Build the whole lab; on any failure remove what was built and raise LabError."""
        for tool in ("ip", "nft", "ssh-keygen", "openssl", "unshare"):
            if shutil.which(tool) is None:
                raise LabError(f"the lab needs {tool!r}. Fix: apt-get install iproute2 nftables openssh-client openssl")
        if not Path(SSHD).exists():
            raise LabError(f"the lab needs {SSHD}. Fix: apt-get install openssh-server")
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, nftables). Fix: run it with sudo")
        if (self.workdir / STATE_FILE).exists():
            raise LabError(f"a lab is already recorded in {self.workdir}. Fix: run 'op25b lab down' first")
        taken = [f"netns {self.ns(r)}" for r in _ROLES if Path(f"/run/netns/{self.ns(r)}").exists()]
        taken += [f"link {self.mgmt_if}"] if Path(f"/sys/class/net/{self.mgmt_if}").exists() else []
        if taken:  # never adopt (and later delete) something this lab did not create
            raise LabError(
                f"{', '.join(taken)} already exist(s) but no lab is recorded in {self.workdir}. Fix: remove them"
                " (ip netns del NAME / ip link del NAME) or use the --workdir of the lab that made them"
            )
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._save()
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        return self

    def _build(self) -> None:
        for role in _ROLES:
            self.namespaces.append(self.ns(role))
            self._save()
            _run(["ip", "netns", "add", self.ns(role)])
            _run(["ip", "-n", self.ns(role), "link", "set", "lo", "up"])
        bras = self.ns("bras")
        for ifname, role, addrs in _LINKS:
            peer = self.ns(role)
            _run(
                [
                    "ip",
                    "link",
                    "add",
                    "name",
                    ifname,
                    "netns",
                    bras,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    peer,
                ]
            )
            for ns, dev in ((bras, ifname), (peer, "eth0")):
                _run(["ip", "-n", ns, "link", "set", dev, "up"])
            for peer_addr, bras_addr in addrs:
                _run(["ip", "-n", peer, "addr", "add", peer_addr, "dev", "eth0", "nodad"])
                _run(["ip", "-n", bras, "addr", "add", bras_addr, "dev", ifname, "nodad"])
            gw4 = next(b for _p, b in addrs if ":" not in b).split("/")[0]
            gw6 = next(b for _p, b in addrs if ":" in b).split("/")[0]
            _run(["ip", "-n", peer, "route", "add", "default", "via", gw4])
            _run(["ip", "-n", peer, "-6", "route", "add", "default", "via", gw6])
        _run(
            [
                "ip", "netns", "exec", bras, "sh", "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
            ]
        )  # fmt: skip
        self._build_mgmt()
        self.nft("-f", "-", input_=HOST_FIREWALL)
        self._start_sshd()
        for role, name in (("isp-mta", "mx.isp.example"), ("external", "mx.foreign.example")):
            self._start_smtp(role, name)
        log.info("lab %s up: ssh %s@%s:%d", self.prefix, self.username, self.mgmt_bras_ip, self.ssh_port)

    def _build_mgmt(self) -> None:
        preferred = "10.255.25.0/30" if self.prefix == CLI_PREFIX else None
        net = pick_mgmt_subnet(os.getpid() * 7 + hash(self.prefix), preferred)
        host_ip, bras_ip = (str(h) for h in net.hosts())
        self.mgmt_host_ip, self.mgmt_bras_ip = host_ip, bras_ip
        self.links.append(self.mgmt_if)
        self._save()
        _run(
            [
                "ip",
                "link",
                "add",
                "name",
                self.mgmt_if,
                "type",
                "veth",
                "peer",
                "name",
                "mgmt0",
                "netns",
                self.ns("bras"),
            ]
        )
        _run(["ip", "addr", "add", f"{host_ip}/30", "dev", self.mgmt_if])
        _run(["ip", "link", "set", self.mgmt_if, "up"])
        _run(["ip", "-n", self.ns("bras"), "addr", "add", f"{bras_ip}/30", "dev", "mgmt0"])
        _run(["ip", "-n", self.ns("bras"), "link", "set", "mgmt0", "up"])

    def _sshd_files(self) -> Path:
        """Host key, known_hosts, password, private passwd/shadow and sshd_config in the workdir."""
        w = self.workdir
        key = w / "ssh_host_ed25519_key"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{self.prefix}bras", "-f", str(key)])
        pub = (w / "ssh_host_ed25519_key.pub").read_text(encoding="utf-8").split()
        self.known_hosts.write_text(f"{self.mgmt_bras_ip} {pub[0]} {pub[1]}\n", encoding="utf-8")
        password = secrets.token_urlsafe(18)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(password + "\n")
        crypted = _run(["openssl", "passwd", "-6", "-stdin"], input_=password + "\n").strip()
        home, ophome = w / "home", w / "home-operator"
        home.mkdir(mode=0o700, exist_ok=True)
        ophome.mkdir(mode=0o700, exist_ok=True)
        os.chown(ophome, OPERATOR_UID, NOGROUP)
        os.chmod(w, 0o711)  # the operator reaches its home and the sticky remote-tmp, nothing else
        (w / "remote-tmp").mkdir(exist_ok=True)
        os.chmod(w / "remote-tmp", 0o1777)
        (w / "passwd").write_text(
            f"root:x:0:0:op25b lab:{home}:/bin/bash\nsshd:x:102:{NOGROUP}::/run/sshd:/usr/sbin/nologin\n"
            f"nobody:x:{NOGROUP}:{NOGROUP}:nobody:/nonexistent:/usr/sbin/nologin\n"
            f"{OPERATOR}:x:{OPERATOR_UID}:{NOGROUP}:op25b lab operator (sudo):{ophome}:/bin/bash\n",
            encoding="utf-8",
        )
        fd = os.open(w / "shadow", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"root:{crypted}:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n")
            f.write(f"{OPERATOR}:{crypted}:19000:0:99999:7:::\n")
        sudoers = w / "sudoers"
        sudoers.write_text(
            'Defaults env_reset, !lecture, secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n'
            f"{OPERATOR} ALL=(root) NOPASSWD: ALL\n",
            encoding="utf-8",
        )
        os.chmod(sudoers, 0o440)
        for scratch in ("wtmp", "lastlog", "btmp"):
            (w / scratch).touch(mode=0o600)
        cfg = w / "sshd_config"
        cfg.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.mgmt_bras_ip}",
                    f"Port {self.ssh_port}",
                    f"HostKey {key}",
                    f"PidFile {w / 'sshd.pid'}",
                    "PermitRootLogin yes",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    f"AuthorizedKeysFile {w / 'authorized_keys'}",
                    "UsePAM no",
                    "StrictModes no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "UseDNS no",
                    "MaxStartups 100:30:200",
                    "MaxSessions 50",
                    f"SetEnv TMPDIR={w / 'remote-tmp'}",
                    "Subsystem sftp internal-sftp",
                    "LogLevel INFO",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        return cfg

    def _start_sshd(self) -> None:
        cfg = self._sshd_files()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        w = self.workdir
        q = shlex.quote
        binds = [f"mount --bind {q(str(w / 'passwd'))} /etc/passwd", f"mount --bind {q(str(w / 'shadow'))} /etc/shadow"]
        scratch_files = (("wtmp", "/var/log/wtmp"), ("lastlog", "/var/log/lastlog"), ("btmp", "/var/log/btmp"))
        for scratch, real in (*scratch_files, ("sudoers", "/etc/sudoers")):
            if Path(real).exists():
                binds.append(f"mount --bind {q(str(w / scratch))} {real}")
        script = " && ".join([*binds, f"exec {SSHD} -D -e -f {q(str(cfg))}"])
        argv = ["ip", "netns", "exec", self.ns("bras"), "unshare", "--mount", "--propagation", "private"]
        argv += ["sh", "-c", script]
        with open(w / "sshd.log", "ab") as logf:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        self.pids["sshd"] = proc.pid
        self._save()
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise LabError(f"sshd in the lab exited ({proc.returncode}); see {w / 'sshd.log'}")
            try:
                with socket.create_connection((self.mgmt_bras_ip, self.ssh_port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"sshd in the lab did not answer on {self.mgmt_bras_ip}:22; see {w / 'sshd.log'}")
            time.sleep(0.1)

    def _start_smtp(self, role: str, hostname: str) -> None:
        spool = self.workdir / "spool" / role
        argv = ["ip", "netns", "exec", self.ns(role), sys.executable, "-m", "op25b_cfg.lab.smtp", "serve"]
        for port in SMTP_PORTS:
            argv += ["--port", str(port)]
        argv += ["--hostname", hostname, "--spool", str(spool)]
        with open(self.workdir / f"smtp-{role}.log", "ab") as logf:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=logf, start_new_session=True
            )
        self.pids[f"smtp-{role}"] = proc.pid
        self._save()
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline().decode(errors="replace") if ready else ""
        proc.stdout.close()
        if not line.startswith("READY"):
            raise LabError(f"SMTP listener in {self.ns(role)} did not start; see {self.workdir / f'smtp-{role}.log'}")

    def spool(self, role: str) -> list[Path]:
        """Messages accepted by the SMTP listener of ``isp-mta`` or ``external``."""
        d = self.workdir / "spool" / role
        return sorted(d.glob("*.eml")) if d.is_dir() else []

    # ------------------------------------------------------------ teardown and status

    def _ns_pids(self, role_or_ns: str) -> list[int]:
        ns = role_or_ns if role_or_ns.startswith(self.prefix) else self.ns(role_or_ns)
        out = _run(["ip", "netns", "pids", ns], check=False)
        return [int(p) for p in out.split() if p.isdigit()]

    def down(self) -> list[str]:
        """Remove everything this lab recorded: processes in its namespaces, namespaces, the management link,
        the workdir. Never raises for things already gone; returns what was removed."""
        removed: list[str] = []
        victims: set[int] = set()
        for ns in self.namespaces:
            victims.update(self._ns_pids(ns))
        victims.update(p for p in self.pids.values() if _pid_alive(p) and self._pid_in_lab(p))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in list(victims):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 3
            while victims and time.monotonic() < deadline:
                for pid in list(victims):
                    with contextlib.suppress(ChildProcessError, OSError):
                        os.waitpid(pid, os.WNOHANG)
                    if not _pid_alive(pid) or _is_zombie(pid):
                        victims.discard(pid)
                time.sleep(0.05)
        if victims:
            log.warning("lab %s: processes still alive after SIGKILL: %s", self.prefix, sorted(victims))
        for ns in reversed(self.namespaces):
            if Path(f"/run/netns/{ns}").exists():
                _run(["ip", "netns", "del", ns], check=False)
                removed.append(f"netns {ns}")
        for link in self.links:
            if Path(f"/sys/class/net/{link}").exists():
                _run(["ip", "link", "del", link], check=False)
                removed.append(f"link {link}")
        if self.owns_workdir and self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)
            removed.append(f"dir {self.workdir}")
        return removed

    def _pid_in_lab(self, pid: int) -> bool:
        """Guard against a recycled pid: the process must run something of ours."""
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"op25b" in cmd or str(self.workdir).encode() in cmd

    def status(self) -> dict[str, Any]:
        """What is up: each namespace, process and the management link, with a liveness flag."""
        return {
            "prefix": self.prefix,
            "workdir": str(self.workdir),
            "namespaces": {ns: Path(f"/run/netns/{ns}").exists() for ns in self.namespaces},
            "links": {link: Path(f"/sys/class/net/{link}").exists() for link in self.links},
            "processes": {name: _pid_alive(pid) and self._pid_in_lab(pid) for name, pid in self.pids.items()},
            "ssh": f"{self.username}@{self.mgmt_bras_ip}:{self.ssh_port}",
            "known_hosts": str(self.known_hosts),
            "password_file": str(self.password_file),
        }


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


@contextlib.contextmanager
def running_lab() -> Iterator[Lab]:
    """A per-run test lab: built on entry, removed on exit (also on failure)."""
    lab = Lab.for_tests()
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
