"""ovnkit: an OVN control plane (OVSDB, nbctl, northd, OpenFlow compilation) from Python."""

import os
from types import TracebackType
from typing import Any, Literal

class Error(Exception):
    """Base class of every ovnkit error."""

class OvsdbError(Error):
    """The OVSDB layer failed: database file, schema, or a transaction error."""

class NbctlError(Error):
    """An nbctl command line was refused."""

class NorthdError(Error):
    """northd could not compile NB or write SB."""

class CompileError(Error):
    """Flow compilation failed (unknown chassis, bad match expression)."""

class ConnectionError(Error):
    """The remote OVSDB server could not be reached, timed out, or answered with an error."""

class ManifestError(Error):
    """Kubernetes manifests do not parse (bad YAML, unknown kind) or do not build a topology."""

class InvalidArgumentError(Error):
    """An argument is invalid: bad JSON, unknown table, wrong kind of database."""

class Database:
    """An embedded OVN_Northbound ("nb") or OVN_Southbound ("sb") database.

    In memory, or kept in the standalone OVSDB file ``path`` (created when missing; every commit
    is appended, and the file is readable by ``ovsdb-tool``).
    """

    def __init__(
        self,
        kind: Literal["nb", "sb", "OVN_Northbound", "OVN_Southbound"] = "nb",
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None: ...
    @property
    def kind(self) -> Literal["nb", "sb"]: ...
    @property
    def name(self) -> Literal["OVN_Northbound", "OVN_Southbound"]: ...
    def transact(self, *ops: dict[str, Any], check: bool = True) -> list[Any]:
        """Runs the RFC 7047 operations as one transaction; returns the result list.

        With ``check=True`` a failed operation raises :class:`OvsdbError`.
        """
    def dump(self, table: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Rows of ``table`` (every table when None), every column in OVSDB JSON notation."""
    def nbctl(self, *args: str) -> str:
        """Runs an ovn-nbctl command line (NB only) as one transaction; returns its output."""
    def kube_apply(self, manifests: str) -> dict[str, int]:
        """Applies Kubernetes manifests (YAML/JSON, ``---``-separated) to this NB database.

        Returns ``{"inserted", "updated", "deleted", "ops"}`` counts; raises
        :class:`ManifestError` when the manifests do not parse or build.
        """
    def chassis_flows(self, chassis: str) -> list[str]:
        """The OpenFlow rules ``chassis`` installs for this SB database, as dump-flows lines."""

def run_northd(nb: Database, sb: Database) -> list[str]:
    """Runs northd once: compiles ``nb`` into ``sb``; returns northd's warnings."""

def compile_match(expr: str) -> list[str]:
    """Compiles an OVN match expression to its OpenFlow matches."""

class Remote:
    """A synchronous connection to an OVSDB server ("unix:PATH" or "tcp:HOST:PORT")."""

    def __init__(self, remote: str, *, timeout: float = 5.0) -> None: ...
    def transact(self, database: str, *ops: dict[str, Any], check: bool = True) -> list[Any]: ...
    def call(self, method: str, params: list[Any] | None = None) -> Any: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Remote": ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
