"""A real OpenLDAP server (Debian's ``slapd``) in a private directory on a loopback
port, standing in for the council's Active Directory: people, groups, distribution
lists with an address, and ``memberOf`` kept by slapd's own overlay as AD keeps it.

Not a mock: mailguard's LDAP client talks to it exactly as to a domain controller.
The entries are written through ``ldap3`` bound as the directory's manager.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection, Server, Tls

from tests.support.net import HOST, free_port
from tests.support.tls import Certificate

SLAPD = "/usr/sbin/slapd"
BASE_DN = "dc=northdown,dc=gov,dc=uk"
ADMIN_DN = f"cn=admin,{BASE_DN}"
ADMIN_PASSWORD = "directory manager test password"
PASSWORD = "Correct-Horse-Battery-9"
_NOBODY = f"cn=nobody,{BASE_DN}"

_CONFIG = """
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args

database mdb
maxsize 67108864
suffix "{base}"
rootdn "{admin}"
rootpw "{password}"
directory {dir}/data
access to attrs=userPassword by anonymous auth by * none
access to * by users read by anonymous auth

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay refint
refint_attributes member
"""


# How mailguard reads this directory: OpenLDAP's names for what AD calls department and
# userPrincipalName, no Exchange proxyAddresses, and "disabled" as disable() marks it.
USER_FILTER = "(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))"
ATTRIBUTES = {"department": "departmentNumber", "proxy_addresses": "", "login": "uid"}


def directory_section(slapd: Slapd, **extra: object) -> str:
    """The ``directory:`` section of mailguard's settings file for this server."""
    values = {
        "url": slapd.url, "base_dn": BASE_DN, "bind_dn": ADMIN_DN,
        "bind_password": ADMIN_PASSWORD, "user_filter": USER_FILTER, "attributes": ATTRIBUTES,
        **extra,
    }  # fmt: skip
    return "directory:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in values.items())


def slapd_available() -> bool:
    return Path(SLAPD).exists()


@dataclass(frozen=True)
class Person:
    uid: str
    name: str
    mail: str
    department: str = ""
    password: str = PASSWORD


class Slapd:
    def __init__(self, tmp: Path, tls: Certificate | None = None) -> None:
        """With ``tls``: LDAPS only (as a domain controller on 636), with that
        certificate; clients must trust ``tls.ca``."""
        self.dir = tmp
        self.port = free_port()
        self.tls = tls
        self.url = f"{'ldaps' if tls else 'ldap'}://{HOST}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        # Stops this slapd when stop() is called, when the object is garbage or at
        # interpreter exit, whichever comes first: no orphan slapd after a test run.
        self._reaper: weakref.finalize | None = None
        self._seeded = False

    def start(self, timeout: float = 20.0) -> Slapd:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "slapd.conf"
        text = _CONFIG.format(dir=self.dir, base=BASE_DN, admin=ADMIN_DN, password=ADMIN_PASSWORD)
        if self.tls is not None:  # global settings: before the first "database"
            tls = (
                f"TLSCACertificateFile {self.tls.ca}\nTLSCertificateFile {self.tls.chain}\n"
                f"TLSCertificateKeyFile {self.tls.key}\n"
            )
            text = text.replace("\ndatabase mdb", f"\n{tls}\ndatabase mdb", 1)
        conf.write_text(text)
        log = (self.dir / "slapd.log").open("ab")
        # -d none: stay in the foreground (so the test owns the process) and log only
        # errors, such as why it would not start ("-d 0" would say nothing at all).
        self.proc = subprocess.Popen(
            [SLAPD, "-d", "none", "-h", self.url, "-f", str(conf)],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()  # slapd has its own copy
        self._reaper = weakref.finalize(self, _terminate, self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited at start:\n{self.log_tail()}")
            try:
                # A plain connect first: ldap3 leaves its socket open when refused.
                socket.create_connection((HOST, self.port), timeout=1).close()
                self._admin().unbind()
                break
            except Exception:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"slapd did not answer:\n{self.log_tail()}")
        if not self._seeded:
            self._seed()
        return self

    def _seed(self) -> None:
        conn = self._admin()
        _add(conn, BASE_DN, ["top", "dcObject", "organization"], o="Northdown", dc="northdown")
        for ou in ("people", "groups"):
            _add(conn, f"ou={ou},{BASE_DN}", ["organizationalUnit"], ou=ou)
        conn.unbind()
        self._seeded = True

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s); the data stays for the next start()."""
        reaper, self._reaper, self.proc = self._reaper, None, None
        if reaper is not None:
            reaper()

    def log_tail(self) -> str:
        path = self.dir / "slapd.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def _admin(self) -> Connection:
        tls = Tls(ca_certs_file=str(self.tls.ca), validate=ssl.CERT_REQUIRED) if self.tls else None
        return Connection(
            Server(self.url, connect_timeout=2, tls=tls), ADMIN_DN, ADMIN_PASSWORD,
            auto_bind=True, receive_timeout=5,
        )  # fmt: skip

    def _change(self, dn: str, changes: dict[str, list[tuple[str, list[str]]]]) -> None:
        conn = self._admin()
        try:
            if not conn.modify(dn, changes):
                raise RuntimeError(f"modify {dn}: {conn.result}")
        finally:
            conn.unbind()

    # --- the directory's content -----------------------------------------------------
    def add_person(self, p: Person) -> str:
        dn = f"uid={p.uid},ou=people,{BASE_DN}"
        attrs = {"uid": p.uid, "cn": p.name, "sn": p.name.split()[-1], "displayName": p.name,
                 "mail": p.mail, "userPassword": p.password}  # fmt: skip
        if p.department:
            attrs["departmentNumber"] = p.department
        conn = self._admin()
        try:
            _add(conn, dn, ["inetOrgPerson"], **attrs)
        finally:
            conn.unbind()
        return dn

    def add_group(self, cn: str, members: list[str], mail: str | None = None) -> str:
        """A group (groupOfNames needs a member); with ``mail`` a distribution list."""
        dn = f"cn={cn},ou=groups,{BASE_DN}"
        classes = ["groupOfNames"] + (["extensibleObject"] if mail else [])
        # groupOfNames must have a member; this one names no entry, so it is nobody.
        attrs: dict[str, object] = {"cn": cn, "member": [*members, _NOBODY]}
        if mail:
            attrs["mail"] = mail
        conn = self._admin()
        try:
            _add(conn, dn, classes, **attrs)
        finally:
            conn.unbind()
        return dn

    def add_to_group(self, cn: str, member: str) -> None:
        self._change(f"cn={cn},ou=groups,{BASE_DN}", {"member": [(MODIFY_ADD, [member])]})

    def remove_from_group(self, cn: str, member: str) -> None:
        self._change(f"cn={cn},ou=groups,{BASE_DN}", {"member": [(MODIFY_DELETE, [member])]})

    def disable(self, dn: str) -> None:
        """The tests' stand-in for AD's "account disabled" bit (userAccountControl)."""
        self._change(dn, {"employeeType": [(MODIFY_REPLACE, ["disabled"])]})

    def delete(self, dn: str) -> None:
        conn = self._admin()
        try:
            if not conn.delete(dn):
                raise RuntimeError(f"delete {dn}: {conn.result}")
        finally:
            conn.unbind()

    def __enter__(self) -> Slapd:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
        shutil.rmtree(self.dir / "data", ignore_errors=True)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _add(conn: Connection, dn: str, classes: list[str], **attrs: object) -> None:
    if not conn.add(dn, classes, attrs):
        raise RuntimeError(f"add {dn}: {conn.result}")
