"""The ovnkit Python module: every capability, and each error category's exception class."""

import pathlib

import pytest

import ovnkit

EXCEPTIONS = [
    ovnkit.OvsdbError,
    ovnkit.NbctlError,
    ovnkit.NorthdError,
    ovnkit.CompileError,
    ovnkit.ConnectionError,
    ovnkit.InvalidArgumentError,
    ovnkit.ManifestError,
]


def topology() -> tuple[ovnkit.Database, ovnkit.Database]:
    nb, sb = ovnkit.Database("nb"), ovnkit.Database("sb")
    nb.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "p1", "--",
             "lsp-set-addresses", "p1", "00:00:00:00:00:01 10.0.0.2")
    ovnkit.run_northd(nb, sb)
    return nb, sb


def bind_p1_to_hv1(sb: ovnkit.Database) -> None:
    sb.transact(
        {"op": "insert", "table": "Encap", "uuid-name": "e",
         "row": {"type": "geneve", "ip": "192.168.0.1", "chassis_name": "hv1"}},
        {"op": "insert", "table": "Chassis", "uuid-name": "c",
         "row": {"name": "hv1", "hostname": "hv1", "encaps": ["named-uuid", "e"]}},
        {"op": "update", "table": "Port_Binding", "where": [["logical_port", "==", "p1"]],
         "row": {"chassis": ["named-uuid", "c"]}},
    )


def test_exception_hierarchy():
    assert issubclass(ovnkit.Error, Exception)
    for exc in EXCEPTIONS:
        assert issubclass(exc, ovnkit.Error)


def test_package_is_typed():
    pkg = pathlib.Path(ovnkit.__file__).parent
    assert (pkg / "py.typed").exists()
    assert any(p.suffix == ".pyi" for p in pkg.iterdir())


def test_database_kinds():
    assert ovnkit.Database().kind == "nb"
    assert ovnkit.Database("sb").name == "OVN_Southbound"
    assert ovnkit.Database("OVN_Northbound").kind == "nb"
    assert "nb" in repr(ovnkit.Database("nb"))
    with pytest.raises(ovnkit.InvalidArgumentError):
        ovnkit.Database("xb")


def test_transact_and_dump():
    nb = ovnkit.Database("nb")
    [res] = nb.transact({"op": "insert", "table": "Logical_Switch", "row": {"name": "sw1"}})
    assert res["uuid"][0] == "uuid"
    rows = nb.dump("Logical_Switch")["Logical_Switch"]
    assert [r["name"] for r in rows] == ["sw1"]
    assert "Logical_Router" in nb.dump()
    with pytest.raises(ovnkit.OvsdbError, match="No_Such_Table|unknown table"):
        nb.transact({"op": "insert", "table": "No_Such_Table", "row": {}})
    [res] = nb.transact({"op": "insert", "table": "No_Such_Table", "row": {}}, check=False)
    assert "error" in res
    with pytest.raises(ovnkit.InvalidArgumentError):
        nb.dump("No_Such_Table")
    with pytest.raises(TypeError):
        nb.transact({"op": object()})


def test_file_backed_database(tmp_path):
    path = tmp_path / "nb.db"
    nb = ovnkit.Database("nb", path=path)
    nb.nbctl("ls-add", "sw0")
    del nb
    assert path.read_text().startswith("OVSDB JSON")
    again = ovnkit.Database("nb", path=str(path))
    assert "(sw0)" in again.nbctl("ls-list")
    with pytest.raises(ovnkit.OvsdbError, match="OVN_Northbound"):
        ovnkit.Database("sb", path=path)
    with pytest.raises(ovnkit.OvsdbError):
        ovnkit.Database("nb", path=tmp_path / "missing-dir" / "x.db")


def test_nbctl():
    nb = ovnkit.Database("nb")
    assert nb.nbctl("ls-add", "sw0") == ""
    assert "(sw0)" in nb.nbctl("ls-list")
    with pytest.raises(ovnkit.NbctlError, match="already exists"):
        nb.nbctl("ls-add", "sw0")
    with pytest.raises(ovnkit.NbctlError):
        nb.nbctl("frobnicate")
    with pytest.raises(ovnkit.NbctlError):
        nb.nbctl("lsp-add", "no-such-switch", "p1")
    with pytest.raises(ovnkit.InvalidArgumentError):
        ovnkit.Database("sb").nbctl("ls-list")


def test_northd_once():
    nb, sb = topology()
    ports = [r["logical_port"] for r in sb.dump("Port_Binding")["Port_Binding"]]
    assert ports == ["p1"]
    assert len(sb.dump("Logical_Flow")["Logical_Flow"]) > 10
    assert isinstance(ovnkit.run_northd(nb, sb), list)
    with pytest.raises(ovnkit.InvalidArgumentError):
        ovnkit.run_northd(sb, nb)
    with pytest.raises(ovnkit.InvalidArgumentError):
        ovnkit.run_northd(nb, nb)


NODE = """\
apiVersion: v1
kind: Node
metadata:
  name: node-01
  annotations:
    k8s.ovn.org/node-primary-ifaddr: '{"ipv4": "172.18.0.11/16"}'
    k8s.ovn.org/host-cidrs: '["172.18.0.11/16"]'
    k8s.ovn.org/node-subnets: '{"default": ["10.128.0.0/23"]}'
    k8s.ovn.org/node-chassis-id: chassis-01
    k8s.ovn.org/l3-gateway-config: '{"default": {"mode": "shared", "next-hops": ["172.18.0.1"]}}'
status:
  addresses:
  - type: InternalIP
    address: 172.18.0.11
"""


def test_kube_apply():
    nb, sb = ovnkit.Database("nb"), ovnkit.Database("sb")
    stats = nb.kube_apply(NODE)
    assert stats["inserted"] > 0 and stats["ops"] > 0
    assert "node-01" in str(nb.dump("Logical_Switch"))
    assert nb.kube_apply(manifests=NODE)["ops"] == 0
    ovnkit.run_northd(nb, sb)
    assert sb.dump("Datapath_Binding")["Datapath_Binding"]


def test_kube_apply_errors():
    nb = ovnkit.Database("nb")
    with pytest.raises(ovnkit.ManifestError):
        nb.kube_apply("kind: [unclosed")
    with pytest.raises(ovnkit.ManifestError, match="Gizmo"):
        nb.kube_apply("apiVersion: v1\nkind: Gizmo\nmetadata:\n  name: g\n")
    with pytest.raises(ovnkit.Error):
        nb.kube_apply("kind: [unclosed")
    with pytest.raises(ovnkit.InvalidArgumentError):
        ovnkit.Database("sb").kube_apply(NODE)


def test_chassis_flows():
    _, sb = topology()
    bind_p1_to_hv1(sb)
    flows = sb.chassis_flows("hv1")
    assert any("table=8" in f and "metadata=0x1" in f for f in flows)
    assert any("dl_dst=00:00:00:00:00:01" in f for f in flows)
    with pytest.raises(ovnkit.CompileError):
        sb.chassis_flows("no-such-chassis")
    with pytest.raises(ovnkit.InvalidArgumentError):
        ovnkit.Database("nb").chassis_flows("hv1")


def test_compile_match():
    [m] = ovnkit.compile_match("ip4.src == 10.0.0.0/8 && tcp.dst == 80")
    assert "nw_src=10.0.0.0/8" in m and "tp_dst=80" in m
    with pytest.raises(ovnkit.CompileError):
        ovnkit.compile_match("ip4.src == ")


def test_remote(ovsdb_server, tmp_path):
    with ovnkit.Remote(ovsdb_server, timeout=5) as remote:
        assert "OVN_Northbound" in remote.call("list_dbs")
        [res] = remote.transact(
            "OVN_Northbound",
            {"op": "insert", "table": "Logical_Switch", "row": {"name": "remote-sw"}},
        )
        assert res["uuid"][0] == "uuid"
        [sel] = remote.transact(
            "OVN_Northbound",
            {"op": "select", "table": "Logical_Switch", "where": [], "columns": ["name"]},
        )
        assert sel["rows"] == [{"name": "remote-sw"}]
        with pytest.raises(ovnkit.OvsdbError):
            remote.transact("OVN_Northbound",
                            {"op": "insert", "table": "No_Such_Table", "row": {}})
        with pytest.raises(ovnkit.ConnectionError):
            remote.call("no_such_method")
        with pytest.raises(ovnkit.InvalidArgumentError):
            remote.call("list_dbs", {"not": "an array"})
    with pytest.raises(ovnkit.ConnectionError, match="closed"):
        remote.call("list_dbs")
    with pytest.raises(ovnkit.ConnectionError):
        ovnkit.Remote(f"unix:{tmp_path}/no-such.sock", timeout=1)
    with pytest.raises(ovnkit.ConnectionError):
        ovnkit.Remote("bogus:remote")
    with pytest.raises(ovnkit.InvalidArgumentError):
        ovnkit.Remote(ovsdb_server, timeout=-1)
