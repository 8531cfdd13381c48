"""Fixtures: a real ovsdb-server serving OVN_Northbound for the Remote tests."""

import pathlib
import shutil
import subprocess
import time

import pytest


@pytest.fixture
def ovsdb_server(tmp_path: pathlib.Path):
    import ovnkit

    if shutil.which("ovsdb-server") is None or shutil.which("ovsdb-tool") is None:
        pytest.fail("ovsdb-server and ovsdb-tool must be installed")
    # The embedded NB schema, written through a file-backed database: its first record is the
    # schema, which is what ovsdb-tool needs... so create the server's database with ovsdb-tool
    # from a copy of that record.
    seed = tmp_path / "seed.db"
    ovnkit.Database("nb", path=seed)
    schema_line = seed.read_text().splitlines()[1]
    schema = tmp_path / "nb.ovsschema"
    schema.write_text(schema_line)
    db = tmp_path / "server-nb.db"
    subprocess.run(["ovsdb-tool", "create", str(db), str(schema)], check=True)
    sock = tmp_path / "nb.sock"
    proc = subprocess.Popen(
        [
            "ovsdb-server",
            f"--remote=punix:{sock}",
            f"--unixctl={tmp_path / 'ctl'}",
            "-vconsole:off",
            str(db),
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline, "ovsdb-server did not start"
            time.sleep(0.02)
        yield f"unix:{sock}"
    finally:
        proc.kill()
        proc.wait()
