//! A python-ovs IDL client (python3-openvswitch) behaves the same against our server as against a
//! real ovsdb-server: transactions with verify, a second replica following the first client's
//! changes, and conditional monitoring with a condition change.

use std::path::{Path, PathBuf};

use crate::harness::{self, OurServer};

const SCRIPT: &str = r#"
import sys, time
import ovs.db.idl, ovs.poller

remote, schema = sys.argv[1], sys.argv[2]

def make_idl(cond=None):
    helper = ovs.db.idl.SchemaHelper(schema)
    helper.register_all()
    idl = ovs.db.idl.Idl(remote, helper)
    if cond is not None:
        for table, c in cond.items():
            idl.cond_change(table, c)
    return idl

def run_until(idls, pred, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        for i in idls:
            i.run()
        if pred():
            return
        poller = ovs.poller.Poller()
        for i in idls:
            i.wait(poller)
        poller.timer_wait(50)
        poller.block()
    raise SystemExit("timeout")

def commit(idl, fn):
    while True:
        txn = ovs.db.idl.Transaction(idl)
        fn(txn)
        status = txn.commit_block()
        if status != ovs.db.idl.Transaction.TRY_AGAIN:
            return status
        run_until([idl], lambda: True)

def switches(idl):
    out = []
    for ls in idl.tables['Logical_Switch'].rows.values():
        out.append((ls.name, sorted(ls.other_config.items()), sorted(ls.external_ids.items()),
                    sorted(p.name for p in ls.ports)))
    return sorted(out)

def ports(idl):
    return sorted((p.name, list(p.addresses)) for p in idl.tables['Logical_Switch_Port'].rows.values())

a = make_idl()
b = make_idl()
c = make_idl({'Logical_Switch_Port': [['name', '==', 'p1']]})
run_until([a, b, c], lambda: a.has_ever_connected() and b.has_ever_connected() and c.has_ever_connected())

def t1(txn):
    ls = txn.insert(a.tables['Logical_Switch'])
    ls.name = 'sw0'
    ls.other_config = {'subnet': '10.0.0.0/24'}
    ps = []
    for i in (1, 2, 3):
        p = txn.insert(a.tables['Logical_Switch_Port'])
        p.name = 'p%d' % i
        p.addresses = ['00:00:00:00:00:0%d 10.0.0.%d' % (i, i)]
        ps.append(p)
    ls.ports = ps
print('t1', commit(a, t1))
print('a', switches(a))

def t2(txn):
    ls = next(r for r in a.tables['Logical_Switch'].rows.values() if r.name == 'sw0')
    ls.verify('other_config')
    oc = dict(ls.other_config)
    oc['mcast_snoop'] = 'true'
    ls.other_config = oc
    ls.setkey('external_ids', 'k', 'v')
print('t2', commit(a, t2))

run_until([b], lambda: any(dict(r.other_config).get('mcast_snoop') == 'true'
                           for r in b.tables['Logical_Switch'].rows.values()))
print('b', switches(b))
run_until([c], lambda: len(c.tables['Logical_Switch_Port'].rows) == 1)
print('c', ports(c))
c.cond_change('Logical_Switch_Port', [['name', '==', 'p2'], ['name', '==', 'p3']])
run_until([c], lambda: len(c.tables['Logical_Switch_Port'].rows) == 2)
print('c', ports(c))

def t3(txn):
    ls = next(r for r in a.tables['Logical_Switch'].rows.values() if r.name == 'sw0')
    ls.ports = [p for p in ls.ports if p.name != 'p3']
    ls.delkey('other_config', 'subnet')
print('t3', commit(a, t3))
run_until([b, c], lambda: len(b.tables['Logical_Switch_Port'].rows) == 2 and
          len(c.tables['Logical_Switch_Port'].rows) == 1)
print('b', switches(b), ports(b))
print('c', ports(c))

# A verify failure: b's view is stale for one round trip.
def t4(txn):
    ls = next(r for r in a.tables['Logical_Switch'].rows.values() if r.name == 'sw0')
    ls.delete()
print('t4', commit(a, t4))
run_until([b, c], lambda: not b.tables['Logical_Switch'].rows and not c.tables['Logical_Switch_Port'].rows)
print('b', switches(b), ports(b))
for i in (a, b, c):
    i.close()
"#;

fn python() -> Option<PathBuf> {
    ["/usr/bin/python3", "python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            std::process::Command::new(p)
                .args(["-c", "import ovs.db.idl"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .or_else(|| {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("python-ovs is not installed (Debian package python3-openvswitch)");
            }
            eprintln!("skipping: python-ovs not installed (Debian package python3-openvswitch)");
            None
        })
}

fn run_script(py: &Path, script: &Path, remote: &str, schema: &Path) -> String {
    let (ok, out, err) = harness::run(
        py,
        &[script.to_str().unwrap(), remote, schema.to_str().unwrap()],
        &[],
    );
    assert!(
        ok,
        "python IDL script failed against {remote}:\n{out}\n{err}"
    );
    out
}

#[test]
fn python_idl_client() {
    let ovn = testkit::require_or_skip!();
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("idl.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let nb = ovn.schema(testkit::Schema::Northbound).unwrap();
    let mut sandbox = ovn.sandbox().unwrap();
    let real = harness::real_server(&mut sandbox, "nb", &nb);
    let want = run_script(&py, &script, &real.remote(), &nb);
    let ours = OurServer::start(&[&nb]);
    let got = run_script(&py, &script, &ours.remote(), &nb);
    assert_eq!(want, got);
    assert!(
        want.contains("t1 success") && want.contains("t4 success"),
        "{want}"
    );
}
