//! `ovnkit northd`: keeps the Southbound database in step with the Northbound one, like
//! ovn-northd.
//!
//! It keeps replicas of NB and SB through monitors (`ovsdb::client::Client`) and sleeps until
//! either changes. Each round compiles NB with `northd::build`, writes the `northd::diff::plan`
//! (typed operations serialized straight to bytes) as one SB transaction (with `SB_Global`
//! `nb_cfg`), then writes back to NB what northd owns
//! there: IPAM `dynamic_addresses`, the `mac_prefix`/`svc_monitor_mac`/`max_tunid` options,
//! `Logical_Switch_Port` `up` (from the port's binding), `sb_cfg` (so `ovn-nbctl --wait=sb`
//! returns) and `hv_cfg` (from `Chassis_Private`). Rounds whose NB changes only touch what
//! [`northd::incremental`] handles (ordinary ports, address sets, port group members) rebuild
//! only the datapaths they affect and write only the rows that changed; anything else, and SB
//! changes by others to the tables northd owns, recomputes everything. `--once` runs one full
//! round and exits. Reconnections are the client's: the replicas resynchronise and the
//! difference shows as changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Args;
use northd::diff::{plan_into, SbRows, SbTxn, TextSink};
use northd::flow::FlowKey;
use northd::incremental::{Engine, NbChange, PortUp, SbLookup, SetElements, Step};
use northd::sb_flows::{FlowDp, FlowId, FlowWrites, SbFlows};
use northd::snapshot::Rows;
use northd::NbSnapshot;
use ovn_nb::model as nb;
use ovn_sb::model as sb;
use ovsdb::client::{
    ChangeKind, Client, ClientConfig, IndexSpec, MonitorSelect, Replica, TrackedChange, Txn,
    TxnReply,
};
use ovsdb::model::Uuid;
use ovsdb::model::{Model, Ref, RowLayout};
use ovsdb::{Atom, Datum};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Bound on each request of a connection's handshake: the monitor's first reply carries a whole
/// database, which a loaded server may need minutes to produce (giving up would only make it
/// start over).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(900);

/// Waits until `client` is connected and in sync, however long that takes (like ovn-northd),
/// saying every [`TIMEOUT`] what it is waiting for; fails only when the client gives up.
async fn wait_connected(client: &Client, what: &str) -> Result<(), String> {
    loop {
        match client.wait_connected(TIMEOUT).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                if let Some(fatal) = client.status().fatal {
                    return Err(format!("{what}: {fatal}"));
                }
                tracing::warn!("{what}: still not connected: {e}");
            }
        }
    }
}

/// The message of a failed transaction on `client`, with the cause of a lost connection (the
/// client's last connection error) when that is why it failed.
fn txn_error(client: &Client, what: &str, e: &ovsdb::client::ClientError) -> String {
    use ovsdb::client::ClientError as E;
    match (e, client.status().last_error) {
        (E::OutcomeUnknown | E::Disconnected, Some(cause)) => {
            format!("{what} transaction: {e} (the connection ended: {cause})")
        }
        _ => format!("{what} transaction: {e}"),
    }
}

/// SB tables replicated: what the diff needs ([`SbRows::TABLES`]), plus `Chassis_Private` for
/// `hv_cfg`.
fn sb_tables() -> Vec<&'static str> {
    let mut t = SbRows::TABLES.to_vec();
    t.push("Chassis_Private");
    t
}

/// `Port_Binding` columns ovn-controller (not northd) writes: changes there only matter for
/// `Logical_Switch_Port` `up`.
const PB_CONTROLLER_COLUMNS: &[&str] = &[
    "chassis",
    "encap",
    "up",
    "additional_chassis",
    "additional_encap",
    "virtual_parent",
    "gateway_chassis",
];

/// Arguments of `ovnkit northd`.
#[derive(Debug, Args)]
pub(crate) struct NorthdArgs {
    /// Northbound database remote(s), e.g. `unix:/run/ovn/ovnnb_db.sock` or `tcp:IP:PORT`
    /// (comma-separated for a cluster).
    #[arg(long = "ovnnb-db")]
    ovnnb_db: String,
    /// Southbound database remote(s).
    #[arg(long = "ovnsb-db")]
    ovnsb_db: String,
    /// Compute and write once, then exit.
    #[arg(long)]
    once: bool,
    /// Kept for compatibility: updates now arrive through monitors, there is no polling.
    #[arg(long = "interval-ms", default_value_t = 100)]
    interval_ms: u64,
    /// Always recompute everything (no incremental processing).
    #[arg(long = "no-incremental")]
    no_incremental: bool,
}

/// glibc's malloc gives threads that allocate at the same time arenas of their own, and memory
/// freed in one arena is not reused by another: the round's content freed on this thread would
/// not make room for the SB update the connection task reads on a worker thread, and the peak
/// would hold both. The setting is read when the process starts, so the daemon starts itself
/// again with one arena (`MALLOC_ARENA_MAX=1`) unless the variable is already set; if that
/// fails it goes on as it is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn single_malloc_arena() {
    use std::os::unix::process::CommandExt;
    const VAR: &str = "MALLOC_ARENA_MAX";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let e = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(VAR, "1")
        .exec();
    eprintln!("ovnkit northd: could not restart with {VAR}=1: {e}");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn single_malloc_arena() {}

pub(crate) fn run(args: &NorthdArgs) -> Result<(), String> {
    single_malloc_arena();
    // One line per round with the time of each step (RUST_LOG=warn silences it).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    // The database clients' connection tasks run on worker threads, so that they keep
    // answering inactivity probes and applying updates while a round computes on this one.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(main_loop(args))
}

fn nb_config(remotes: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(remotes, "OVN_Northbound");
    cfg.monitor = None;
    for t in NbSnapshot::TABLES {
        cfg = cfg.table(t, &[]);
    }
    cfg.connect_timeout = TIMEOUT;
    cfg.request_timeout = HANDSHAKE_TIMEOUT;
    cfg
}

/// `Logical_Flow` columns replicated: what the diff reads (not `external_ids`, whose
/// `stage-name` and hints follow from the rest: one string map less per flow).
/// (Also the columns a `select` reads when northd has lost track of what it wrote.)
const LFLOW_COLUMNS: &[&str] = &[
    "logical_datapath",
    "logical_dp_group",
    "pipeline",
    "table_id",
    "priority",
    "match",
    "actions",
    "tags",
    "controller_meter",
];

fn sb_config(remotes: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(remotes, "OVN_Southbound");
    cfg.monitor = None;
    for t in sb_tables() {
        let columns = if t == "Logical_Flow" {
            LFLOW_COLUMNS
        } else {
            &[]
        };
        cfg = cfg.table(t, columns);
    }
    cfg.connect_timeout = TIMEOUT;
    cfg.request_timeout = HANDSHAKE_TIMEOUT;
    // The server does not send back the flows northd inserts (tens of thousands in a full
    // round): the daemon records them from the transaction's reply ([`SbFlows`]). Deletions
    // and modifications by anyone still come, as do all rows of the first snapshot; inserts
    // come as notices (UUID and `table_id` only), so that flows other clients insert are seen
    // and deleted (the client drops the notices of our own inserts when the reply comes).
    cfg.select(
        "Logical_Flow",
        MonitorSelect {
            insert: false,
            ..MonitorSelect::ALL
        },
    )
    .insert_notices("Logical_Flow", "table_id")
    .index(IndexSpec::new("Port_Binding", "pb-name", &["logical_port"]))
    .index(IndexSpec::new(
        "Multicast_Group",
        "mc-name",
        &["datapath", "name"],
    ))
    .index(IndexSpec::new("Address_Set", "as-name", &["name"]))
    .index(IndexSpec::new("Port_Group", "pg-name", &["name"]))
    .index(IndexSpec::new("IP_Multicast", "ipm-dp", &["datapath"]))
    .index(IndexSpec::new(
        "Logical_DP_Group",
        "dpg-dps",
        &["datapaths"],
    ))
}

/// What the next round must do.
#[derive(Debug, Default)]
struct Pending {
    /// Recompute everything.
    full: bool,
    /// NB rows changed since the last round (applied to the engine's snapshot).
    nb: Vec<TrackedChange>,
    /// Switch ports (taken out of `nb` when a round starts) whose rows changed in `up`
    /// alone: northd's own write-back coming back, patched into the engine's snapshot
    /// without typing each row ([`Engine::set_ports_up`]).
    nb_up: Vec<PortUp>,
    /// Ports whose `up` may have changed (their binding changed).
    ports_up: BTreeSet<String>,
    /// `Chassis_Private` changed (`hv_cfg`).
    hv_cfg: bool,
    /// Flows whose insert was announced while our own SB write was in flight: ours if the
    /// write's reply named them, another client's otherwise (decided in `collect`, once the
    /// reply is recorded).
    maybe_foreign: Vec<Uuid>,
}

struct Daemon {
    nb: Client,
    sb: Client,
    /// SB changes seen while writing that still need handling.
    carry: std::cell::RefCell<Pending>,
    /// Every SB `Logical_Flow` row as northd knows it: those of the replica (the monitor's
    /// snapshot) and those it inserted since, which the server does not send back. Valid while
    /// the replica has not been replaced by a new snapshot since (`flows_resets`) and no SB
    /// write ended in doubt (`flows_lost`).
    flows: std::cell::RefCell<SbFlows>,
    /// [`Replica::resets`] when `flows` was last built.
    flows_resets: std::cell::Cell<u64>,
    /// An SB write failed: whether it committed is unknown, so what it inserted may be in SB
    /// without being in `flows`. The next full round reads the flows back with a `select`.
    flows_lost: std::cell::Cell<bool>,
    engine: Option<Engine>,
    incremental: bool,
}

async fn main_loop(args: &NorthdArgs) -> Result<(), String> {
    let nb = Client::start(nb_config(&args.ovnnb_db)).map_err(|e| e.to_string())?;
    let sb = Client::start(sb_config(&args.ovnsb_db)).map_err(|e| e.to_string())?;
    // How long each replica takes to be in sync (the monitors' first replies carry whole
    // databases): logged, as the first thing a start-up spends time on.
    let t = Instant::now();
    wait_connected(&nb, "NB").await?;
    let nb_sync_ms = t.elapsed().as_millis() as u64;
    wait_connected(&sb, "SB").await?;
    tracing::info!(
        nb_sync_ms,
        sb_sync_ms = t.elapsed().as_millis() as u64 - nb_sync_ms,
        "replicas in sync"
    );
    memory_at("replicas in sync");
    let mut nb_rx = nb.subscribe();
    let mut sb_rx = sb.subscribe();
    let mut d = Daemon {
        nb,
        sb,
        carry: std::cell::RefCell::default(),
        flows: std::cell::RefCell::default(),
        flows_resets: std::cell::Cell::new(0),
        flows_lost: std::cell::Cell::new(false),
        engine: None,
        incremental: !args.no_incremental && !args.once,
    };
    let mut pending = Pending {
        full: true,
        ..Default::default()
    };
    // The first round recomputes from the replicas: what was tracked so far is in them.
    d.nb.drop_changes();
    d.sb.drop_changes();
    loop {
        nb_rx.borrow_and_update();
        sb_rx.borrow_and_update();
        let connected = d.nb.status().connected && d.sb.status().connected;
        if connected {
            d.collect(&mut pending);
            if pending.full
                || !pending.nb.is_empty()
                || !pending.ports_up.is_empty()
                || pending.hv_cfg
            {
                let work = std::mem::take(&mut pending);
                if let Err(e) = d.round(work).await {
                    if args.once {
                        return Err(e);
                    }
                    tracing::warn!("round failed, recomputing everything next: {e}");
                    d.engine = None;
                    pending.full = true;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
            if args.once {
                return Ok(());
            }
        }
        let r = tokio::select! {
            r = nb_rx.changed() => r,
            r = sb_rx.changed() => r,
        };
        if r.is_err() {
            return Err("database client stopped".to_owned());
        }
        if let Some(e) = d.nb.status().fatal.or(d.sb.status().fatal) {
            return Err(e.to_string());
        }
    }
}

/// How much of a full round's SB request text may wait in memory for the socket before the
/// plan waits: the SB server reads (and runs ahead on) the request slower than the plan writes
/// it, and with the client's default 16 MiB the plan thread spent most of its time waiting
/// (switches-only: 37 MB of text, OVN-Kubernetes 250 nodes several times that), holding the
/// next round back. Real ovn-northd queues its whole request. 64 MiB bounds what is held at
/// once.
const FULL_ROUND_STREAM_BUDGET: usize = 64 << 20;

/// Rows of one table typed together at most: a part of the parse that either thread takes
/// ([`run_parts`]). Small enough that the two threads end close together, big enough that
/// taking a part costs nothing next to typing it.
const PART_ROWS: usize = 512;

/// Locks `m`, whether or not a thread panicked holding it (the panic is passed on anyway).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The typed rows of one part, or the first error among them.
type TypedPart<T> = Result<Vec<(Ref<T>, T)>, String>;

/// One table of a replica typed in parts: its rows in UUID order, cut into runs of
/// [`PART_ROWS`] typed by whichever thread is free ([`run_parts`]); the thread that types the
/// last part puts the table's map together.
///
/// The rows are typed in UUID order: the map's own sort then finds them in order and moves
/// none, and collected at once (sorted, then built bottom-up) the map's nodes are full.
struct TableParts<'r, T> {
    layout: RowLayout,
    /// The rows, by UUID.
    rows: Vec<(Uuid, &'r ovsdb::client::Row)>,
    /// Each part's typed rows, once typed.
    parts: Vec<Mutex<Option<TypedPart<T>>>>,
    /// Parts not typed yet.
    left: AtomicUsize,
    /// The table's rows, once every part is typed.
    done: Mutex<Option<Result<Rows<T>, String>>>,
}

impl<'r, T: Model + Send> TableParts<'r, T> {
    /// The rows of `T`'s table in `rep` (none when it is not replicated), not typed yet.
    fn new(rep: &'r Replica) -> Self {
        let (layout, mut rows) = match rep.table(T::TABLE) {
            Some(view) => (
                T::row_layout(view.schema()),
                view.entries().map(|(u, r)| (u, &**r)).collect::<Vec<_>>(),
            ),
            None => (T::row_layout(T::table_schema()), Vec::new()),
        };
        rows.sort_unstable_by_key(|r| r.0);
        let n = rows.len().div_ceil(PART_ROWS);
        Self {
            layout,
            rows,
            parts: (0..n).map(|_| Mutex::new(None)).collect(),
            left: AtomicUsize::new(n),
            done: Mutex::new(None),
        }
    }

    fn part_rows(&self, part: usize) -> &[(Uuid, &'r ovsdb::client::Row)] {
        let start = (part * PART_ROWS).min(self.rows.len());
        &self.rows[start..(start + PART_ROWS).min(self.rows.len())]
    }

    /// The typed rows, in a map; the first error (in UUID order) if a row has a bad value.
    fn rows(self) -> Result<Rows<T>, String> {
        if self.parts.is_empty() {
            return Ok(Rows::new());
        }
        let done = self
            .done
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        done.unwrap_or_else(|| Err(format!("{}: rows not typed", T::TABLE)))
    }

    /// Every part's rows in one map (every part is typed).
    fn assemble(&self) -> Result<Rows<T>, String> {
        let mut all: Vec<(Ref<T>, T)> = Vec::new();
        for p in &self.parts {
            let part = lock(p)
                .take()
                .unwrap_or_else(|| Err(format!("{}: rows not typed", T::TABLE)))?;
            if all.is_empty() {
                all = part;
                all.reserve(self.rows.len() - all.len());
            } else {
                all.extend(part);
            }
        }
        Ok(all.into_iter().collect())
    }
}

/// Tables typed in parts, as [`run_parts`] sees them.
trait Parts: Sync {
    /// How many parts.
    fn count(&self) -> usize;
    /// The rough cost of part `part`: its rows times the atoms of its first and last rows.
    fn weight(&self, part: usize) -> usize;
    /// Types part `part` (once).
    fn run(&self, part: usize);
}

impl<T: Model + Send> Parts for TableParts<'_, T> {
    fn count(&self) -> usize {
        self.parts.len()
    }

    fn weight(&self, part: usize) -> usize {
        let rows = self.part_rows(part);
        let atoms = |r: Option<&(Uuid, &ovsdb::client::Row)>| {
            r.map_or(0, |(_, r)| {
                r.fields().iter().map(|d| d.len() + 1).sum::<usize>()
            })
        };
        rows.len() * (atoms(rows.first()) + atoms(rows.last())) / 2
    }

    fn run(&self, part: usize) {
        let typed: TypedPart<T> = self
            .part_rows(part)
            .iter()
            .map(|(_, r)| {
                T::from_row_in(r.as_row(), &self.layout)
                    .map(|m| (m.uuid(), m))
                    .map_err(|e| format!("{}: {e}", T::TABLE))
            })
            .collect();
        *lock(&self.parts[part]) = Some(typed);
        if self.left.fetch_sub(1, AtomicOrdering::AcqRel) == 1 {
            let rows = self.assemble();
            *lock(&self.done) = Some(rows);
        }
    }
}

/// Types every part of `tables` on this thread and one more, the heaviest parts first, each
/// taken by whichever thread is free; this thread runs `first` before it takes any.
fn run_parts(tables: &[&dyn Parts], first: impl FnOnce()) {
    let mut work: Vec<(usize, usize, usize)> = Vec::new();
    for (t, parts) in tables.iter().enumerate() {
        work.extend((0..parts.count()).map(|p| (parts.weight(p), t, p)));
    }
    work.sort_unstable_by_key(|w| std::cmp::Reverse(w.0));
    let next = AtomicUsize::new(0);
    let take = || {
        while let Some(&(_, t, p)) = work.get(next.fetch_add(1, AtomicOrdering::Relaxed)) {
            tables[t].run(p);
        }
    };
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("ovnkit-parse".into())
            .spawn_scoped(s, take);
        first();
        take();
        // (Without a second thread this one took every part.)
        if let Ok(w) = worker {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// The typed model of a replica row (read in place: no copy of its fields).
fn typed_row<T: Model>(r: &ovsdb::client::Row, ts: &ovsdb::TableSchema) -> Result<T, String> {
    T::from_row(r.as_row(), ts).map_err(|e| format!("{}: {e}", T::TABLE))
}

/// Declares a struct of [`TableParts`], one per field, made from one replica, with the list of
/// them for [`run_parts`].
macro_rules! table_parts {
    ($(#[$m:meta])* $name:ident { $($field:ident: $ty:ty,)* }) => {
        $(#[$m])*
        struct $name<'r> {
            $($field: TableParts<'r, $ty>,)*
        }

        impl<'r> $name<'r> {
            fn new(rep: &'r Replica) -> Self {
                Self { $($field: TableParts::new(rep),)* }
            }

            fn all(&self) -> Vec<&dyn Parts> {
                vec![$(&self.$field as &dyn Parts),*]
            }
        }
    };
}

table_parts!(
    /// The NB tables northd reads ([`NbSnapshot`]), being typed.
    NbParts {
        nb_global: nb::NbGlobal,
        switches: nb::LogicalSwitch,
        switch_ports: nb::LogicalSwitchPort,
        routers: nb::LogicalRouter,
        router_ports: nb::LogicalRouterPort,
        acls: nb::Acl,
        address_sets: nb::AddressSet,
        port_groups: nb::PortGroup,
        load_balancers: nb::LoadBalancer,
        lb_groups: nb::LoadBalancerGroup,
        lb_health_checks: nb::LoadBalancerHealthCheck,
        qos: nb::QoS,
        meters: nb::Meter,
        meter_bands: nb::MeterBand,
        dhcp_options: nb::DhcpOptions,
        dns: nb::Dns,
        static_routes: nb::LogicalRouterStaticRoute,
        policies: nb::LogicalRouterPolicy,
        nats: nb::Nat,
        gateway_chassis: nb::GatewayChassis,
        ha_chassis_groups: nb::HaChassisGroup,
        ha_chassis: nb::HaChassis,
        bfd: nb::Bfd,
        static_mac_bindings: nb::StaticMacBinding,
        copp: nb::Copp,
        forwarding_groups: nb::ForwardingGroup,
        mirrors: nb::Mirror,
        template_vars: nb::ChassisTemplateVar,
    }
);

impl NbParts<'_> {
    /// The snapshot (every part typed). A bad value is reported as the tables were once read
    /// one after the other: `Logical_Switch_Port` first, then `Load_Balancer`,
    /// `Logical_Switch`, `Logical_Router`, `NB_Global`, and the rest in the snapshot's order.
    fn finish(self) -> Result<NbSnapshot, String> {
        let switch_ports = self.switch_ports.rows()?;
        let load_balancers = self.load_balancers.rows()?;
        let switches = self.switches.rows()?;
        let routers = self.routers.rows()?;
        let mut globals = self.nb_global.rows()?;
        Ok(NbSnapshot {
            nb_global: globals.pop_first().map(|(_, g)| g),
            switches,
            switch_ports,
            routers,
            router_ports: self.router_ports.rows()?,
            acls: self.acls.rows()?,
            address_sets: self.address_sets.rows()?,
            port_groups: self.port_groups.rows()?,
            load_balancers,
            lb_groups: self.lb_groups.rows()?,
            lb_health_checks: self.lb_health_checks.rows()?,
            qos: self.qos.rows()?,
            meters: self.meters.rows()?,
            meter_bands: self.meter_bands.rows()?,
            dhcp_options: self.dhcp_options.rows()?,
            dns: self.dns.rows()?,
            static_routes: self.static_routes.rows()?,
            policies: self.policies.rows()?,
            nats: self.nats.rows()?,
            gateway_chassis: self.gateway_chassis.rows()?,
            ha_chassis_groups: self.ha_chassis_groups.rows()?,
            ha_chassis: self.ha_chassis.rows()?,
            bfd: self.bfd.rows()?,
            static_mac_bindings: self.static_mac_bindings.rows()?,
            copp: self.copp.rows()?,
            forwarding_groups: self.forwarding_groups.rows()?,
            mirrors: self.mirrors.rows()?,
            template_vars: self.template_vars.rows()?,
        })
    }
}

table_parts!(
    /// The SB tables the diff reads ([`SbRows`]; `Logical_Flow` is read apart, as compact
    /// records: [`add_replica_flows`]), being typed.
    SbParts {
        sb_global: sb::SbGlobal,
        datapaths: sb::DatapathBinding,
        ports: sb::PortBinding,
        multicast_groups: sb::MulticastGroup,
        address_sets: sb::AddressSet,
        port_groups: sb::PortGroup,
        dp_groups: sb::LogicalDpGroup,
        load_balancers: sb::LoadBalancer,
        ip_multicast: sb::IpMulticast,
        chassis: sb::Chassis,
        encaps: sb::Encap,
        ha_chassis_groups: sb::HaChassisGroup,
        ha_chassis: sb::HaChassis,
        static_mac_bindings: sb::StaticMacBinding,
        dhcp_options: sb::DhcpOptions,
        dhcpv6_options: sb::Dhcpv6Options,
        meters: sb::Meter,
        meter_bands: sb::MeterBand,
        service_monitors: sb::ServiceMonitor,
        igmp_groups: sb::IgmpGroup,
        rbac_roles: sb::RbacRole,
        rbac_permissions: sb::RbacPermission,
        mirrors: sb::Mirror,
        template_vars: sb::ChassisTemplateVar,
        mac_bindings: sb::MacBinding,
        fdbs: sb::Fdb,
        bfd: sb::Bfd,
        dns: sb::Dns,
    }
);

impl SbParts<'_> {
    /// The rows (every part typed); a bad value is reported for the first table in
    /// [`SbRows`]' order that has one.
    fn finish(self) -> Result<SbRows, String> {
        let mut globals = self.sb_global.rows()?;
        Ok(SbRows {
            sb_global: globals.pop_first().map(|(_, g)| g),
            datapaths: self.datapaths.rows()?,
            ports: self.ports.rows()?,
            multicast_groups: self.multicast_groups.rows()?,
            address_sets: self.address_sets.rows()?,
            port_groups: self.port_groups.rows()?,
            // Read as compact records instead (`add_replica_flows`).
            logical_flows: Rows::new(),
            dp_groups: self.dp_groups.rows()?,
            load_balancers: self.load_balancers.rows()?,
            ip_multicast: self.ip_multicast.rows()?,
            chassis: self.chassis.rows()?,
            encaps: self.encaps.rows()?,
            ha_chassis_groups: self.ha_chassis_groups.rows()?,
            ha_chassis: self.ha_chassis.rows()?,
            static_mac_bindings: self.static_mac_bindings.rows()?,
            dhcp_options: self.dhcp_options.rows()?,
            dhcpv6_options: self.dhcpv6_options.rows()?,
            meters: self.meters.rows()?,
            meter_bands: self.meter_bands.rows()?,
            service_monitors: self.service_monitors.rows()?,
            igmp_groups: self.igmp_groups.rows()?,
            rbac_roles: self.rbac_roles.rows()?,
            rbac_permissions: self.rbac_permissions.rows()?,
            mirrors: self.mirrors.rows()?,
            template_vars: self.template_vars.rows()?,
            mac_bindings: self.mac_bindings.rows()?,
            fdbs: self.fdbs.rows()?,
            bfd: self.bfd.rows()?,
            dns: self.dns.rows()?,
        })
    }
}

/// The typed NB snapshot of `nb` and, with `sb`, the typed SB rows of it (but its flows), every
/// table typed in parts on two threads ([`run_parts`]); this thread runs `first` before it
/// takes its share. A bad value in NB is reported before one in SB. (Never inlined: profilers
/// find the parse step's work under its name, `--toggle-collect=ovnkit::northd::typed_replicas`.)
#[inline(never)]
fn typed_replicas(
    nb: &Replica,
    sb: Option<&Replica>,
    first: impl FnOnce(),
) -> Result<(NbSnapshot, Option<SbRows>), String> {
    let nb_parts = NbParts::new(nb);
    let sb_parts = sb.map(SbParts::new);
    let mut all = nb_parts.all();
    if let Some(p) = &sb_parts {
        all.extend(p.all());
    }
    run_parts(&all, first);
    drop(all);
    let snapshot = nb_parts.finish()?;
    let current = sb_parts.map(SbParts::finish).transpose()?;
    Ok((snapshot, current))
}

/// The typed NB snapshot of `rep` (see [`typed_replicas`]).
#[cfg(test)]
fn nb_snapshot(rep: &Replica) -> Result<NbSnapshot, String> {
    typed_replicas(rep, None, || {}).map(|(nb, _)| nb)
}

/// Records the `Logical_Flow` rows of the replica in `out` (replacing what it had of them).
fn add_replica_flows(rep: &Replica, out: &mut SbFlows) -> Result<(), String> {
    let Some(t) = rep.table(sb::LogicalFlow::TABLE) else {
        return Ok(());
    };
    let layout = sb::LogicalFlow::row_layout(t.schema());
    for r in t.rows() {
        let f = sb::LogicalFlow::from_row_in(r.as_row(), &layout)
            .map_err(|e| format!("{}: {e}", sb::LogicalFlow::TABLE))?;
        out.insert(r.uuid(), FlowId::of_row(&f), FlowDp::of_row(&f));
    }
    Ok(())
}

/// The process's resident set and its peak (`VmRSS`, `VmHWM`) in MiB, for the round's log
/// line; zeros where `/proc/self/status` is unavailable.
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Logs the memory at a step of a round (debug level: `RUST_LOG=ovnkit=debug`): resident set,
/// its peak, and the heap (`heap_mib`: under glibc's malloc the bytes handed out, the rest of
/// the resident set being free memory malloc keeps; under mimalloc the memory it has committed,
/// which bounds its resident part from above, with its peak as `heap_peak_mib`).
fn memory_at(step: &str) {
    let (rss, hwm) = memory_mib();
    let heap = crate::alloc::heap_in_use().map_or(0, |b| b >> 20);
    let heap_peak = crate::alloc::heap_peak().map(|b| b >> 20);
    tracing::debug!(
        rss_mib = rss,
        hwm_mib = hwm,
        heap_mib = heap,
        heap_peak_mib = heap_peak,
        minor_faults = minor_faults(),
        "memory after {step}"
    );
}

/// The process's minor page faults so far (each a page the kernel mapped on first touch:
/// what a step spends in the kernel growing the heap), from `/proc/self/stat`; 0 where it is
/// unavailable.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name (in parentheses, possibly with spaces): state, ppid, pgrp,
    // session, tty_nr, tpgid, flags, minflt.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Gives back to the system the memory a step of the round freed (what the resident set
/// measures), then logs the memory as [`memory_at`].
fn trimmed_memory_at(step: &str) {
    crate::alloc::release_free_memory();
    memory_at(step);
}

/// `NB_Global` `hv_cfg`: the smallest `nb_cfg` any chassis has caught up with (`nb_cfg` when
/// there is no chassis).
fn hv_cfg(rep: &Replica, nb_cfg: i64) -> i64 {
    let Some(t) = rep.table("Chassis_Private") else {
        return nb_cfg;
    };
    t.rows()
        .filter_map(|r| match t.value(r, "nb_cfg").and_then(Datum::first) {
            Some(Atom::Integer(i)) => Some(*i),
            _ => None,
        })
        .min()
        .map_or(nb_cfg, |m| m.min(nb_cfg))
}

/// `Logical_Switch_Port` `up` as ovn-northd derives it from the port's binding: router ports
/// are always up; a bound port is up when its binding says so (or has no `up` column yet).
fn lsp_up(rep: &Replica, lsp: &nb::LogicalSwitchPort) -> bool {
    if lsp.type_ == "router" {
        return true;
    }
    let Some(t) = rep.table("Port_Binding") else {
        return false;
    };
    t.lookup_str("pb-name", &lsp.name).iter().any(|r| {
        let bound = t.value(r, "chassis").is_some_and(|d| d.first().is_some());
        let up = match t.value(r, "up").and_then(Datum::first) {
            Some(Atom::Boolean(b)) => *b,
            _ => true,
        };
        bound && up
    })
}

/// Moves out of `work.nb` into `work.nb_up` the `Logical_Switch_Port` modifications that
/// changed `up` alone (and `_version`): after a full round northd writes `up` back for
/// thousands of ports, and typing each of them whole only to find it unchanged cost as much
/// memory again as the ports take. A row changed more than once since the last round stays
/// in `nb` (its changes are applied in order).
fn take_up_only(nb: &Client, work: &mut Pending) {
    let up_col = nb
        .with_replica(|rep| {
            rep.schema()
                .table(nb::LogicalSwitchPort::TABLE)
                .and_then(|t| t.column_index(nb::LogicalSwitchPort::COL_UP))
        })
        .flatten();
    let Some(up_col) = up_col else {
        return;
    };
    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    for c in &work.nb {
        *seen.entry(c.uuid).or_default() += 1;
    }
    let up_only = |c: &TrackedChange| -> Option<PortUp> {
        if c.table != nb::LogicalSwitchPort::TABLE
            || c.kind != ChangeKind::Modify
            || seen.get(&c.uuid) != Some(&1)
        {
            return None;
        }
        let (old, new) = (c.old.as_ref()?, c.new.as_ref()?);
        // Columns 0 and 1 are `_uuid` and `_version`.
        let others_same = (2..old.fields().len().max(new.fields().len()))
            .all(|i| i == up_col || old.field(i) == new.field(i));
        if !others_same {
            return None;
        }
        let version = match new.field(1).first() {
            Some(Atom::Uuid(u)) => Some(*u),
            _ => None,
        };
        let up = match new.field(up_col).first() {
            Some(Atom::Boolean(b)) => Some(*b),
            None => None,
            Some(_) => return None,
        };
        Some(PortUp {
            uuid: c.uuid,
            version,
            up,
        })
    };
    let mut rest = Vec::with_capacity(work.nb.len());
    for c in std::mem::take(&mut work.nb) {
        match up_only(&c) {
            Some(p) => work.nb_up.push(p),
            None => rest.push(c),
        }
    }
    work.nb = rest;
}

/// The string value of column `col` of a replica row.
fn str_col<'a>(t: &ovsdb::client::TableView<'a>, r: &'a ovsdb::client::Row, col: &str) -> String {
    match t.value(r, col).and_then(Datum::first) {
        Some(Atom::String(s)) => s.to_string(),
        _ => String::new(),
    }
}

impl Daemon {
    /// Moves the changes tracked in both replicas into `p`, classifying SB changes: bindings'
    /// controller columns only touch `up`; `Chassis_Private` only `hv_cfg`; anything else in SB
    /// (another writer in the tables northd owns, chassis features) needs a full recompute.
    fn collect(&self, p: &mut Pending) {
        p.nb.extend(self.nb.take_changes());
        let carry = std::mem::take(&mut *self.carry.borrow_mut());
        p.ports_up.extend(carry.ports_up);
        p.hv_cfg |= carry.hv_cfg;
        p.full |= carry.full;
        if !carry.maybe_foreign.is_empty() {
            let mut flows = self.flows.borrow_mut();
            for uuid in carry.maybe_foreign {
                if !flows.contains(&uuid) {
                    flows.insert(uuid, FlowId::UNKNOWN, FlowDp::None);
                    p.full = true;
                }
            }
        }
        self.classify_sb(self.sb.take_changes(), p, false);
        // A new snapshot (a resynchronization that could not resume) holds every flow: what
        // was recorded besides the replica may be out of date.
        let resets = self.sb.with_replica(Replica::resets).unwrap_or(0);
        if resets != self.flows_resets.get() {
            p.full = true;
        }
    }

    /// Every SB `Logical_Flow` row as compact records, with the replica read as `rep` (see
    /// [`Daemon::flows`]); rebuilt from the replica after a new snapshot. The records are
    /// taken out of [`Daemon::flows`] (not copied: a full round of a big cluster would hold
    /// them twice) and the caller puts them back; should reading the replica fail, they are
    /// lost and the next full round reads the flows back ([`Daemon::flows_lost`]).
    fn current_flows(&self, rep: &Replica) -> Result<SbFlows, String> {
        let mut flows = std::mem::take(&mut *self.flows.borrow_mut());
        if rep.resets() != self.flows_resets.get() {
            flows = SbFlows::new();
        }
        // The replica's rows win over what was recorded of them.
        if let Err(e) = add_replica_flows(rep, &mut flows) {
            self.flows_lost.set(true);
            return Err(e);
        }
        self.flows_resets.set(rep.resets());
        Ok(flows)
    }

    /// Reads every SB `Logical_Flow` back with a `select` (after an SB write whose outcome is
    /// unknown) into [`Daemon::flows`].
    async fn reread_flows(&self) -> Result<(), String> {
        let mut txn = Txn::new();
        txn.op(json!({
            "op": "select",
            "table": "Logical_Flow",
            "where": [],
            "columns": std::iter::once("_uuid").chain(LFLOW_COLUMNS.iter().copied()).collect::<Vec<_>>(),
        }));
        let reply = self
            .sb
            .transact(txn)
            .await
            .map_err(|e| txn_error(&self.sb, "SB select", &e))?;
        let rows = reply
            .results
            .first()
            .and_then(|r| r.get("rows"))
            .cloned()
            .unwrap_or_else(|| json!([]));
        let read =
            SbRows::from_json(&json!({ "Logical_Flow": rows })).map_err(|e| e.to_string())?;
        *self.flows.borrow_mut() = SbFlows::from_rows(&read.logical_flows);
        self.flows_lost.set(false);
        Ok(())
    }

    /// Records what a committed SB transaction did to `Logical_Flow`.
    fn record_flows(&self, writes: &FlowWrites, reply: &TxnReply) {
        self.flows
            .borrow_mut()
            .apply(writes, |i| reply.inserted_uuid(i));
    }

    /// Sorts SB changes (see [`collect`](Self::collect)); with `ours`, they came with our own
    /// write: changes to the tables northd owns are ours then, the others still count.
    fn classify_sb(&self, changes: Vec<TrackedChange>, p: &mut Pending, ours: bool) {
        let controller_cols: Option<Vec<usize>> = self.sb.with_replica(|r| {
            r.table("Port_Binding").map_or_else(Vec::new, |t| {
                PB_CONTROLLER_COLUMNS
                    .iter()
                    .filter_map(|c| t.schema().column_index(c))
                    .collect()
            })
        });
        let controller_cols = controller_cols.unwrap_or_default();
        for c in changes {
            // With `ours`, a change counts as our own write's only where northd could have
            // made it: it never writes `Chassis`, only deletes learned or reported rows, and
            // ovn-controller writes the `status` of `Service_Monitor` and `BFD` (a change
            // there during our write costs at most one extra full round).
            let ours = ours
                && match (c.table.as_str(), c.kind) {
                    ("Chassis", _) => false,
                    ("IGMP_Group" | "MAC_Binding" | "FDB", kind) => kind == ChangeKind::Delete,
                    ("Service_Monitor" | "BFD", kind) => kind != ChangeKind::Modify,
                    _ => true,
                };
            match c.table.as_str() {
                "Chassis_Private" => p.hv_cfg = true,
                // Learned by ovn-controller: they only go stale when a datapath or a port
                // goes, which an NB change makes (a full round deletes them; an incremental
                // round deletes the `FDB` entries of the VIF ports it deletes).
                "MAC_Binding" | "FDB" => {}
                // Northd never modifies flows, and deletes only those it knows: a flow changed
                // by someone else is replaced, one deleted is written again (by a full round,
                // as ovn-northd does). A deletion may be our own; it is gone either way.
                "Logical_Flow" => {
                    let mut flows = self.flows.borrow_mut();
                    match c.kind {
                        ChangeKind::Delete => {
                            flows.remove(&c.uuid);
                            p.full |= !ours;
                        }
                        ChangeKind::Modify => {
                            flows.forget_content(&c.uuid);
                            p.full = true;
                        }
                        // An insert notice (the row is not sent): another client's flow is
                        // recorded as of unknown content, which the full round deletes (as
                        // ovn-northd does with flows it did not write).
                        ChangeKind::Insert => {
                            if ours {
                                p.maybe_foreign.push(c.uuid);
                            } else if !flows.contains(&c.uuid) {
                                flows.insert(c.uuid, FlowId::UNKNOWN, FlowDp::None);
                                p.full = true;
                            }
                        }
                    }
                }
                "Port_Binding" if c.kind == ChangeKind::Modify => {
                    let only_controller = c
                        .changed_columns()
                        .iter()
                        .all(|i| *i < 2 || controller_cols.contains(i));
                    if !only_controller && !ours {
                        p.full = true;
                    }
                    let name = self.sb.with_replica(|r| {
                        r.table("Port_Binding").and_then(|t| {
                            let row = c.new.as_ref().or(c.old.as_ref())?;
                            Some(str_col(&t, row, "logical_port"))
                        })
                    });
                    if let Some(Some(n)) = name {
                        p.ports_up.insert(n);
                    }
                }
                _ => p.full |= !ours,
            }
        }
    }

    async fn round(&mut self, mut work: Pending) -> Result<(), String> {
        let engine_ok = self.incremental && self.engine.is_some() && !work.full;
        if engine_ok {
            take_up_only(&self.nb, &mut work);
        }
        // A round reads the NB rows as they are now: the rows as they were (the only copies
        // left once the replica has the new ones; thousands after the write-back of a full
        // round) are freed before the work starts.
        for c in &mut work.nb {
            c.old = None;
        }
        if engine_ok && self.incremental_round(&work).await? {
            return Ok(());
        }
        self.full_round().await
    }

    /// Recomputes everything and writes the difference.
    async fn full_round(&mut self) -> Result<(), String> {
        // The replicas as read below include what is tracked so far.
        let _ = self.nb.take_changes();
        let _ = self.sb.take_changes();
        if self.flows_lost.get() {
            self.reread_flows().await?;
            // The read stands for the replica as it is now (snapshot included).
            let resets = self.sb.with_replica(Replica::resets).unwrap_or(0);
            self.flows_resets.set(resets);
        }
        let t = Instant::now();
        // NB and SB typed together on two threads, this one reading SB's flows first.
        let mut flows_read: Option<Result<SbFlows, String>> = None;
        let read = self.nb.with_replica(|nb| {
            self.sb
                .with_replica(|sb| {
                    typed_replicas(nb, Some(sb), || flows_read = Some(self.current_flows(sb)))
                })
                .unwrap_or_else(|| typed_replicas(nb, None, || {}))
        });
        let (snapshot, current) = match read.ok_or("NB replica not ready")? {
            Ok(read) => read,
            Err(e) => {
                // The flows go back where they were taken from (with the replica's rows).
                if let Some(Ok(flows)) = flows_read {
                    *self.flows.borrow_mut() = flows;
                }
                return Err(e);
            }
        };
        let current = current.ok_or("SB replica not ready")?;
        let flows = flows_read.ok_or("SB replica not ready")??;
        let parse_ms = t.elapsed().as_millis() as u64;
        memory_at("parse");
        let nb_cfg = snapshot.nb_global.as_ref().map_or(0, |g| g.nb_cfg);
        let sb_nb_cfg = self
            .sb
            .with_replica(|r| {
                r.table("SB_Global").and_then(|t| {
                    t.rows().next().and_then(|row| {
                        match t.value(row, "nb_cfg").and_then(Datum::first) {
                            Some(Atom::Integer(i)) => Some(*i),
                            _ => None,
                        }
                    })
                })
            })
            .flatten();
        let t = Instant::now();
        // The SB transaction is planned and serialized on another thread while the engine
        // indexes the content (the operations are typed and serialized straight to bytes, no
        // JSON tree per op), and its text goes to the SB server piece by piece as it is
        // written: a full round's (tens of MB) is never held whole.
        let state = current.state();
        let stream = match self.sb.transact_stream_bounded(FULL_ROUND_STREAM_BUDGET) {
            Ok(s) => s,
            Err(e) => {
                *self.flows.borrow_mut() = flows;
                return Err(txn_error(&self.sb, "SB", &e));
            }
        };
        let sink = TextSink::new(stream.sender());
        let runtime = tokio::runtime::Handle::current();
        let (engine, planned) = Engine::new_with(snapshot, state, |content| {
            let start = Instant::now();
            let txn = SbTxn::with_sink(sink);
            let mut txn = plan_into(&current, &flows, content, txn).map_err(|e| e.to_string())?;
            let writes = txn.take_flow_writes();
            if sb_nb_cfg != Some(nb_cfg) {
                txn.push_json(northd::embedded::nb_cfg_update(nb_cfg));
            }
            let n_ops = txn.len();
            let inserts = txn.take_inserts();
            // What the sink has not been handed yet.
            let rest = txn.into_bytes().map_err(|e| e.to_string())?;
            // The request is ended here, as soon as its text is complete, not once the engine
            // has indexed the content: the SB server only starts executing a transaction once
            // it has all of it. (A runtime task ends it and waits for the reply.)
            stream.send(rest.into());
            let reply = runtime.spawn(stream.finish(n_ops, inserts));
            Ok::<_, String>((start, start.elapsed(), n_ops, writes, reply))
        });
        drop(current);
        *self.flows.borrow_mut() = flows;
        // A failed plan drops the stream unfinished: the connection is reset (nothing of the
        // partial transaction is committed).
        let (plan_start, plan, n_ops, writes, reply) = planned?;
        // Build until the plan started; plan (and serialization) from there on, overlapped
        // with the engine's indexing: the two add up to the wall time. `plan_ms`: until the SB
        // request was complete.
        let build_ms = plan_start.saturating_duration_since(t).as_millis() as u64;
        let diff_ms = plan_start.elapsed().as_millis() as u64;
        let plan_ms = plan.as_millis() as u64;
        memory_at("build, plan and serialize");
        let content = engine.content();
        for w in &content.warnings {
            eprintln!("ovnkit northd: {w}");
        }
        let flows = content.flows.len();
        let dynamic = content.nb_dynamic_addresses.clone();
        let global_options = content.global_options.clone();
        let t = Instant::now();
        // The merged flow table is not needed any more (the engine keeps its own index, which
        // shares the flow texts): freed before the SB commit and the echo of the non-flow rows.
        let mut engine = engine;
        engine.release_content();
        trimmed_memory_at("serialize");
        let reply = self.sb_stream_reply(reply).await?;
        self.record_flows(&writes, &reply);
        drop(writes);
        trimmed_memory_at("SB commit");
        tracing::info!(
            parse_ms,
            build_ms,
            diff_ms,
            plan_ms,
            sb_write_ms = t.elapsed().as_millis() as u64,
            ops = n_ops,
            flows,
            "SB written (full)"
        );
        let lsps: Vec<Ref<nb::LogicalSwitchPort>> =
            engine.nb().switch_ports.keys().copied().collect();
        self.engine = Some(engine);
        let r = self
            .write_nb(&lsps, &dynamic, &global_options, nb_cfg)
            .await;
        trimmed_memory_at("NB write-back");
        r
    }

    /// Applies the NB changes to the engine; returns false when they need a full recompute.
    async fn incremental_round(&mut self, work: &Pending) -> Result<bool, String> {
        let t = Instant::now();
        let Some(engine) = self.engine.as_mut() else {
            return Ok(false);
        };
        let step = {
            let nb = &self.nb;
            let r = nb.with_replica(|rep| {
                let changes: Vec<NbChange<'_>> = work
                    .nb
                    .iter()
                    .filter_map(|c| {
                        let ts = rep.schema().table(&c.table)?;
                        Some(NbChange {
                            table: &c.table,
                            uuid: c.uuid,
                            row: c.new.as_deref().map(|r| (r.as_row(), ts)),
                        })
                    })
                    .collect();
                engine.apply(&changes)
            });
            r.ok_or("NB replica not ready")?
                .map_err(|e| e.to_string())?
        };
        // The ports whose `up` alone changed, after the other rows (no row is in both).
        let step = match step {
            Step::Applied(delta) => match engine.set_ports_up(&work.nb_up) {
                Ok(()) => Step::Applied(delta),
                Err(why) => Step::Full(why),
            },
            full => full,
        };
        let delta = match step {
            Step::Applied(delta) => delta,
            Step::Full(why) => {
                tracing::info!("full recompute: {why}");
                self.engine = None;
                return Ok(false);
            }
        };
        let build_ms = t.elapsed().as_millis() as u64;
        for w in &delta.warnings {
            eprintln!("ovnkit northd: {w}");
        }
        let phases: Vec<String> = delta
            .timings
            .iter()
            .map(|(k, d)| format!("{k}={}us", d.as_micros()))
            .collect();
        let t = Instant::now();
        let flows = &self.flows;
        let flows_resets = self.flows_resets.get();
        let planned = self.sb.with_replica(|rep| {
            if rep.resets() != flows_resets {
                return None;
            }
            let flows = flows.borrow();
            let lookup = ReplicaLookup::new(rep, &flows);
            Some(engine.plan_txn(&delta, &lookup).map(|txn| {
                let writes = txn.flow_writes();
                txn.ops_json().map(|ops| (ops, writes))
            }))
        });
        let Some(planned) = planned.ok_or("SB replica not ready")? else {
            tracing::info!("full recompute: SB resynchronized");
            self.engine = None;
            return Ok(false);
        };
        let (mut ops, writes) = planned.and_then(|r| r).map_err(|e| e.to_string())?;
        let nb_cfg = engine.nb().nb_global.as_ref().map_or(0, |g| g.nb_cfg);
        let sb_nb_cfg = self
            .sb
            .with_replica(|r| {
                r.table("SB_Global").and_then(|t| {
                    t.rows().next().and_then(|row| {
                        match t.value(row, "nb_cfg").and_then(Datum::first) {
                            Some(Atom::Integer(i)) => Some(*i),
                            _ => None,
                        }
                    })
                })
            })
            .flatten();
        if sb_nb_cfg != Some(nb_cfg) {
            ops.push(
                json!({"op": "update", "table": "SB_Global", "where": [], "row": {"nb_cfg": nb_cfg}}),
            );
        }
        let plan_ms = t.elapsed().as_millis() as u64;
        let t = Instant::now();
        let n_ops = ops.len();
        if let Some(reply) = self.write_sb(ops).await? {
            self.record_flows(&writes, &reply);
        }
        tracing::info!(
            build_ms,
            plan_ms,
            sb_write_ms = t.elapsed().as_millis() as u64,
            ops = n_ops,
            phases = phases.join(","),
            "SB written (incremental)"
        );
        let mut lsps: BTreeSet<Ref<nb::LogicalSwitchPort>> = work
            .nb
            .iter()
            .filter(|c| c.table == "Logical_Switch_Port" && c.kind != ChangeKind::Delete)
            .map(|c| Ref::new(c.uuid))
            .chain(work.nb_up.iter().map(|p| Ref::new(p.uuid)))
            .collect();
        let Some(engine) = self.engine.as_ref() else {
            return Ok(true);
        };
        if !work.ports_up.is_empty() {
            lsps.extend(
                engine
                    .nb()
                    .switch_ports
                    .values()
                    .filter(|l| work.ports_up.contains(&l.name))
                    .map(|l| l.uuid),
            );
        }
        let lsps: Vec<_> = lsps.into_iter().collect();
        let options = engine.global_options().clone();
        self.write_nb(&lsps, &BTreeMap::new(), &options, nb_cfg)
            .await?;
        Ok(true)
    }

    /// Commits `ops` to SB; our own changes are then dropped from the tracked ones (the replica
    /// already has them: read-your-writes).
    /// Returns the reply (`None` when there was nothing to write).
    async fn write_sb(&self, ops: Vec<Value>) -> Result<Option<TxnReply>, String> {
        let mut reply = None;
        if !ops.is_empty() {
            let mut txn = Txn::new();
            for op in ops {
                txn.op(op);
            }
            let r = self.sb.transact(txn).await;
            reply = Some(self.sb_written(r)?);
        }
        self.after_sb_write();
        Ok(reply)
    }

    /// The reply of an SB write, or why it failed; a failure leaves what it inserted unknown
    /// (see [`Daemon::flows_lost`]).
    fn sb_written(&self, r: ovsdb::client::Result<TxnReply>) -> Result<TxnReply, String> {
        r.map_err(|e| {
            self.flows_lost.set(true);
            txn_error(&self.sb, "SB", &e)
        })
    }

    /// Waits for the commit of a streamed SB transaction (`reply`: the task that ended it with
    /// [`ovsdb::client::TxnStream::finish`]), then as [`Self::write_sb`]. A round with nothing to change
    /// commits an empty transaction.
    async fn sb_stream_reply(
        &self,
        reply: tokio::task::JoinHandle<ovsdb::client::Result<TxnReply>>,
    ) -> Result<TxnReply, String> {
        let r = reply
            .await
            .unwrap_or(Err(ovsdb::client::ClientError::Closed));
        let reply = self.sb_written(r)?;
        self.after_sb_write();
        Ok(reply)
    }

    /// Drops the tracked changes our own SB write produced.
    fn after_sb_write(&self) {
        // What we just wrote comes back as tracked changes; it is not news (but bindings and
        // chassis that ovn-controller changed meanwhile are).
        let mut carry = std::mem::take(&mut *self.carry.borrow_mut());
        self.classify_sb(self.sb.take_changes(), &mut carry, true);
        *self.carry.borrow_mut() = carry;
    }

    /// Writes back to NB: `up` of `lsps`, IPAM `dynamic_addresses`, the global options northd
    /// owns, `sb_cfg` and `hv_cfg`.
    async fn write_nb(
        &self,
        lsps: &[Ref<nb::LogicalSwitchPort>],
        dynamic: &BTreeMap<Uuid, Option<String>>,
        global_options: &BTreeMap<String, String>,
        nb_cfg: i64,
    ) -> Result<(), String> {
        let Some(engine) = self.engine.as_ref() else {
            return Ok(());
        };
        let snapshot = engine.nb();
        // Each operation is written to the transaction's text as it is made (a full round
        // writes back thousands of ports: no JSON tree of them all).
        let mut ops = OpsText::new("OVN_Northbound");
        let ups: Vec<(Uuid, bool)> = self
            .sb
            .with_replica(|rep| {
                lsps.iter()
                    .filter_map(|r| snapshot.switch_ports.get(r))
                    .filter_map(|lsp| {
                        let up = lsp_up(rep, lsp);
                        (lsp.up != Some(up)).then_some((lsp.uuid.uuid(), up))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (u, up) in ups {
            ops.push(&json!({
                "op": "update",
                "table": "Logical_Switch_Port",
                "where": [["_uuid", "==", ["uuid", u.to_string()]]],
                "row": {"up": up},
            }));
        }
        for (port, value) in dynamic {
            let v = match value {
                Some(s) => json!(s),
                None => json!(["set", []]),
            };
            ops.push(&json!({
                "op": "update",
                "table": "Logical_Switch_Port",
                "where": [["_uuid", "==", ["uuid", port.to_string()]]],
                "row": {"dynamic_addresses": v},
            }));
        }
        if let Some(g) = &snapshot.nb_global {
            let mut options = g.options.clone();
            for key in ["mac_prefix", "svc_monitor_mac", "max_tunid"] {
                if let Some(v) = global_options.get(key) {
                    options.insert(key.to_owned(), v.clone());
                }
            }
            let hv = self
                .sb
                .with_replica(|r| hv_cfg(r, nb_cfg))
                .unwrap_or(nb_cfg);
            if options != g.options || g.sb_cfg != nb_cfg || g.hv_cfg != hv {
                let pairs: Vec<Value> = options.iter().map(|(k, v)| json!([k, v])).collect();
                ops.push(&json!({
                    "op": "update",
                    "table": "NB_Global",
                    "where": [["_uuid", "==", ["uuid", g.uuid.to_string()]]],
                    "row": {"sb_cfg": nb_cfg, "hv_cfg": hv, "options": ["map", pairs]},
                }));
            }
        }
        if ops.n_ops == 0 {
            return Ok(());
        }
        let n_ops = ops.n_ops;
        self.nb
            .transact_bytes(ops.into_bytes()?.into(), n_ops, Vec::new())
            .await
            .map_err(|e| txn_error(&self.nb, "NB", &e))?;
        Ok(())
    }
}

/// `transact` params written as text one operation at a time.
struct OpsText {
    text: Vec<u8>,
    n_ops: usize,
    failed: Option<String>,
}

impl OpsText {
    /// No operation yet, on database `db`.
    fn new(db: &str) -> Self {
        let mut text = b"[".to_vec();
        text.extend_from_slice(Value::String(db.to_owned()).to_string().as_bytes());
        Self {
            text,
            n_ops: 0,
            failed: None,
        }
    }

    /// Appends operation `op`.
    fn push(&mut self, op: &Value) {
        self.text.push(b',');
        if let Err(e) = serde_json::to_writer(&mut self.text, op) {
            self.failed.get_or_insert_with(|| e.to_string());
        }
        self.n_ops += 1;
    }

    /// The params (`[db, op...]`).
    fn into_bytes(mut self) -> Result<Vec<u8>, String> {
        if let Some(e) = self.failed {
            return Err(format!("NB transaction: {e}"));
        }
        self.text.push(b']');
        Ok(self.text)
    }
}

/// SB rows found through the replica's indexes, for the incremental plan.
struct ReplicaLookup<'a> {
    rep: &'a Replica,
    /// Every `Logical_Flow` row (see [`Daemon::flows`]).
    flows: &'a SbFlows,
    /// SB datapaths by NB switch or router, read on first need (a step with nothing to
    /// write needs none).
    datapaths: std::cell::OnceCell<HashMap<Uuid, Uuid>>,
}

impl<'a> ReplicaLookup<'a> {
    fn new(rep: &'a Replica, flows: &'a SbFlows) -> Self {
        Self {
            rep,
            flows,
            datapaths: std::cell::OnceCell::new(),
        }
    }

    /// The SB datapath of each NB switch and router.
    fn datapaths(&self) -> &HashMap<Uuid, Uuid> {
        self.datapaths.get_or_init(|| {
            let rep = self.rep;
            let mut datapaths = HashMap::new();
            if let Some(t) = rep.table("Datapath_Binding") {
                for r in t.rows() {
                    if let Some(Datum::Map(m)) = t.value(r, "external_ids") {
                        for (k, v) in m {
                            if let (Atom::String(k), Atom::String(v)) = (k, v) {
                                if &**k == "logical-switch" || &**k == "logical-router" {
                                    if let Ok(nb) = Uuid::parse_str(v) {
                                        datapaths.insert(nb, r.uuid());
                                    }
                                }
                            }
                        }
                    }
                }
            }
            datapaths
        })
    }

    fn typed<T: Model>(&self, r: &ovsdb::client::Row) -> Option<T> {
        let t = self.rep.table(T::TABLE)?;
        typed_row::<T>(r, t.schema()).ok()
    }

    fn by_index<T: Model>(&self, index: &str, key: &[Datum]) -> Vec<T> {
        let Some(t) = self.rep.table(T::TABLE) else {
            return Vec::new();
        };
        t.lookup(index, key)
            .unwrap_or(&[])
            .iter()
            .filter_map(|u| t.get(u))
            .filter_map(|r| self.typed::<T>(r))
            .collect()
    }
}

fn s(text: &str) -> Datum {
    Datum::scalar(Atom::String(text.into()))
}

fn u(id: Uuid) -> Datum {
    Datum::scalar(Atom::Uuid(id))
}

impl SbLookup for ReplicaLookup<'_> {
    fn datapath(&self, nb_uuid: Uuid) -> Option<Uuid> {
        self.datapaths().get(&nb_uuid).copied()
    }

    fn port_binding(&self, name: &str) -> Option<sb::PortBinding> {
        self.by_index("pb-name", &[s(name)]).into_iter().next()
    }

    fn port_binding_uuid(&self, name: &str) -> Option<Uuid> {
        let t = self.rep.table(sb::PortBinding::TABLE)?;
        t.lookup("pb-name", &[s(name)])?.first().copied()
    }

    fn multicast_group(&self, datapath: Uuid, name: &str) -> Option<sb::MulticastGroup> {
        self.by_index("mc-name", &[u(datapath), s(name)])
            .into_iter()
            .next()
    }

    fn address_set(&self, name: &str) -> Option<sb::AddressSet> {
        self.by_index("as-name", &[s(name)]).into_iter().next()
    }

    fn address_set_elements(&self, name: &str) -> Option<(Uuid, SetElements<'_>)> {
        let t = self.rep.table(sb::AddressSet::TABLE)?;
        let row = t.get(t.lookup("as-name", &[s(name)])?.first()?)?;
        let addresses = t.value(row, sb::AddressSet::COL_ADDRESSES)?;
        Some((row.uuid(), SetElements::Atoms(addresses.clone())))
    }

    fn port_group(&self, name: &str) -> Option<sb::PortGroup> {
        self.by_index("pg-name", &[s(name)]).into_iter().next()
    }

    fn ip_multicast(&self, datapath: Uuid) -> Option<sb::IpMulticast> {
        self.by_index("ipm-dp", &[u(datapath)]).into_iter().next()
    }

    fn logical_flows(&self, key: &FlowKey) -> Vec<(Uuid, FlowDp)> {
        self.flows.with_id(FlowId::of_key(key)).collect()
    }

    fn dp_group_datapaths(&self, group: Uuid) -> Option<BTreeSet<Uuid>> {
        let t = self.rep.table("Logical_DP_Group")?;
        let r = t.get(&group)?;
        let g = typed_row::<sb::LogicalDpGroup>(r, t.schema()).ok()?;
        Some(g.datapaths.iter().map(|d| d.uuid()).collect())
    }

    fn chassis(&self, name: &str) -> Option<Uuid> {
        let t = self.rep.table("Chassis")?;
        let by = |col: &str| {
            t.rows()
                .find(|r| str_col(&t, r, col) == name)
                .map(|r| r.uuid())
        };
        by("name").or_else(|| by("hostname"))
    }

    fn ha_chassis_group(&self, name: &str) -> Option<Uuid> {
        let t = self.rep.table("HA_Chassis_Group")?;
        t.rows()
            .find(|r| str_col(&t, r, "name") == name)
            .map(|r| r.uuid())
    }

    fn fdbs_of_port(&self, datapath: Uuid, port_key: i64) -> Vec<Uuid> {
        let rep = self.rep;
        let int = |t: &ovsdb::client::TableView<'_>, r: &ovsdb::client::Row, col: &str| match t
            .value(r, col)
            .and_then(Datum::first)
        {
            Some(Atom::Integer(i)) => Some(*i),
            _ => None,
        };
        let Some(dp_key) = rep
            .table("Datapath_Binding")
            .and_then(|t| t.get(&datapath).and_then(|r| int(&t, r, "tunnel_key")))
        else {
            return Vec::new();
        };
        let Some(t) = rep.table("FDB") else {
            return Vec::new();
        };
        t.rows()
            .filter(|r| {
                int(&t, r, "dp_key") == Some(dp_key) && int(&t, r, "port_key") == Some(port_key)
            })
            .map(|r| r.uuid())
            .collect()
    }

    fn dp_group(&self, datapaths: &BTreeSet<Uuid>) -> Option<Uuid> {
        let t = self.rep.table("Logical_DP_Group")?;
        let key = Datum::set_from_vec(datapaths.iter().map(|d| Atom::Uuid(*d)).collect()).ok()?;
        t.lookup("dpg-dps", &[key])?.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use testkit::{Component, NorthdSource, NB_PLACEHOLDER, SB_PLACEHOLDER};

    /// The built `ovnkit` binary next to the test's `deps` directory, if there is one.
    fn ovnkit_binary() -> Option<std::path::PathBuf> {
        std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.parent()?.join("ovnkit")))
            .filter(|p| p.exists())
    }

    fn signal(pid: u32, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    }

    /// Real NB and SB servers (no chassis) with our `ovnkit northd` binary between them, or
    /// `None` (with a printed reason) when the binary is not built.
    fn stack_with_our_northd(ovn: &testkit::Toolbox) -> Option<testkit::Stack> {
        let Some(program) = ovnkit_binary() else {
            eprintln!("skipped: build the ovnkit binary first (cargo build -p ovnkit-cli)");
            return None;
        };
        let stack = ovn
            .stack()
            .no_chassis()
            .northd(NorthdSource::Command {
                program,
                args: vec![
                    "northd".into(),
                    "--ovnnb-db".into(),
                    NB_PLACEHOLDER.into(),
                    "--ovnsb-db".into(),
                    SB_PLACEHOLDER.into(),
                ],
            })
            .build()
            .expect("stack");
        Some(stack)
    }

    /// An SB server that stays silent for longer than two inactivity-probe intervals while it
    /// commits our transaction (as a real ovsdb-server does committing tens of thousands of
    /// flows on a loaded machine) must not make the round fail: the connection is a Unix socket,
    /// which OVS never probes, and the transaction's reply is still coming. This is how the
    /// first full round at scale failed after its SB commit (BENCHMARKS.md, issues 8 and 9).
    #[test]
    fn a_round_survives_a_silent_sb_server() {
        let ovn = testkit::require_or_skip!();
        let Some(stack) = stack_with_our_northd(&ovn) else {
            return;
        };
        stack.nbctl(["--wait=sb", "ls-add", "sw0"]).expect("nbctl");
        let sb = stack.daemon(Component::Sb).expect("SB server").pid();
        signal(sb, "-STOP");
        stack.nbctl(["lsp-add", "sw0", "p1"]).expect("nbctl");
        // Two probe intervals (5 s each) and a margin, with our transaction waiting.
        std::thread::sleep(std::time::Duration::from_secs(12));
        signal(sb, "-CONT");
        stack.nbctl(["--wait=sb", "sync"]).expect("wait sb");
        let log = std::fs::read_to_string(
            stack
                .daemon(Component::Northd)
                .expect("northd")
                .output_file(),
        )
        .expect("northd log");
        assert!(
            !log.contains("round failed") && !log.contains("connection ended"),
            "{log}"
        );
        assert!(log.contains("SB written (incremental)"), "{log}");
    }

    /// Our northd drives a real NB/SB pair: `ovn-nbctl --wait=sb` returns and the flows are
    /// there. Needs the built `ovnkit` binary next to the test's `deps` directory
    /// (`cargo build -p ovnkit-cli` first); skipped otherwise.
    #[test]
    fn keeps_sb_in_step_with_nb() {
        let ovn = testkit::require_or_skip!();
        let Some(stack) = stack_with_our_northd(&ovn) else {
            return;
        };
        stack.nbctl(["ls-add", "sw0"]).expect("nbctl");
        stack
            .nbctl([
                "lsp-add",
                "sw0",
                "p1",
                "--",
                "lsp-set-addresses",
                "p1",
                "00:00:00:00:00:01 10.0.0.1",
            ])
            .expect("nbctl");
        stack.wait_sb().expect("wait sb");
        let flows = stack.logical_flows().expect("flows");
        assert!(flows.iter().any(|f| f.stage == "ls_in_l2_lkup"
            && f.match_expr == "eth.dst == 00:00:00:00:00:01"
            && f.actions == "outport = \"p1\"; output;"));
        let pb = stack
            .sbctl(["--bare", "--columns=logical_port", "list", "Port_Binding"])
            .expect("sbctl");
        assert_eq!(pb.trim(), "p1");
        // A second change is reflected too (incrementally), and an unbound port is down.
        stack
            .nbctl(["--wait=sb", "lsp-add", "sw0", "p2"])
            .expect("nbctl");
        let up = stack
            .nbctl(["get", "Logical_Switch_Port", "p2", "up"])
            .expect("nbctl");
        assert_eq!(up.trim(), "false");
        let pb = stack
            .sbctl([
                "--bare",
                "--columns=logical_port",
                "find",
                "Port_Binding",
                "logical_port=p2",
            ])
            .expect("sbctl");
        assert_eq!(pb.trim(), "p2");
        // Address change of p1, then delete: flows follow.
        stack
            .nbctl([
                "--wait=sb",
                "lsp-set-addresses",
                "p1",
                "00:00:00:00:00:09 10.0.0.9",
            ])
            .expect("nbctl");
        let flows = stack.logical_flows().expect("flows");
        assert!(flows
            .iter()
            .any(|f| f.stage == "ls_in_l2_lkup" && f.match_expr == "eth.dst == 00:00:00:00:00:09"));
        assert!(!flows
            .iter()
            .any(|f| f.stage == "ls_in_l2_lkup" && f.match_expr == "eth.dst == 00:00:00:00:00:01"));
        stack.nbctl(["--wait=sb", "lsp-del", "p1"]).expect("nbctl");
        let pb = stack
            .sbctl(["--bare", "--columns=logical_port", "list", "Port_Binding"])
            .expect("sbctl");
        assert_eq!(pb.trim(), "p2");
        stack
            .nbctl(["--wait=hv", "sync"])
            .expect("wait hv without chassis");
    }

    /// A flow another client inserts is deleted, as ovn-northd does (the server announces
    /// inserts without their rows); the RBAC rows are there.
    #[test]
    fn deletes_flows_others_insert() {
        let ovn = testkit::require_or_skip!();
        let Some(stack) = stack_with_our_northd(&ovn) else {
            return;
        };
        stack.nbctl(["--wait=sb", "ls-add", "sw0"]).expect("nbctl");
        let dp = stack
            .sbctl(["--bare", "--columns=_uuid", "list", "Datapath_Binding"])
            .expect("sbctl")
            .trim()
            .to_owned();
        let count = || {
            stack
                .sbctl(["--bare", "--columns=_uuid", "list", "Logical_Flow"])
                .expect("sbctl")
                .split_whitespace()
                .count()
        };
        let before = count();
        let flows_before = stack.sbctl(["lflow-list"]).expect("lflow-list");
        let foreign = stack
            .sbctl([
                "create",
                "Logical_Flow",
                &format!("logical_datapath={dp}"),
                "pipeline=ingress",
                "table_id=3",
                "priority=5",
                "match=\"1\"",
                "actions=\"next;\"",
            ])
            .expect("create")
            .trim()
            .to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = stack
                .sbctl([
                    "--bare",
                    "--columns=_uuid",
                    "find",
                    "Logical_Flow",
                    &format!("_uuid={foreign}"),
                ])
                .unwrap_or_default();
            if left.trim().is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "foreign flow not deleted"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if count() != before {
            let after = stack.sbctl(["lflow-list"]).expect("lflow-list");
            panic!("flows changed by the full round:\nbefore:\n{flows_before}\nafter:\n{after}");
        }
        // The next NB change is still applied on top.
        stack
            .nbctl([
                "--wait=sb",
                "lsp-add",
                "sw0",
                "p1",
                "--",
                "lsp-set-addresses",
                "p1",
                "00:00:00:00:00:01 10.0.0.1",
            ])
            .expect("nbctl");
        assert!(count() > before);
        let roles = stack
            .sbctl(["--bare", "--columns=name", "list", "RBAC_Role"])
            .expect("sbctl");
        assert_eq!(roles.trim(), "ovn-controller");
    }

    /// The server does not send back the flows northd inserts, yet a flow another client
    /// deletes is written again and one it changes is put back, as ovn-northd does; and the
    /// next NB change is still applied incrementally on top of that.
    #[test]
    fn restores_flows_others_delete_or_change() {
        let ovn = testkit::require_or_skip!();
        let Some(stack) = stack_with_our_northd(&ovn) else {
            return;
        };
        stack
            .nbctl([
                "ls-add",
                "sw0",
                "--",
                "lsp-add",
                "sw0",
                "p1",
                "--",
                "lsp-set-addresses",
                "p1",
                "00:00:00:00:00:01 10.0.0.1",
            ])
            .expect("nbctl");
        stack.wait_sb().expect("wait sb");
        let set = || {
            let mut v: Vec<String> = stack
                .logical_flows()
                .expect("flows")
                .into_iter()
                .map(|f| format!("{} {} {} {}", f.stage, f.priority, f.match_expr, f.actions))
                .collect();
            v.sort();
            v
        };
        let want = set();
        let uuid_of = |cond: &str| {
            stack
                .sbctl(["--bare", "--columns=_uuid", "find", "Logical_Flow", cond])
                .expect("sbctl")
                .trim()
                .to_owned()
        };
        let l2 = uuid_of("match=\"eth.dst == 00:00:00:00:00:01\"");
        assert!(!l2.is_empty());
        let wait_for = |what: &str| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while set() != want {
                assert!(std::time::Instant::now() < deadline, "{what}: {:?}", set());
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        };
        stack
            .sbctl(["destroy", "Logical_Flow", &l2])
            .expect("destroy");
        wait_for("deleted flow not restored");
        let l2 = uuid_of("match=\"eth.dst == 00:00:00:00:00:01\"");
        stack
            .sbctl(["set", "Logical_Flow", &l2, "actions=\"drop;\""])
            .expect("set");
        wait_for("changed flow not restored");
        // The restored flows are known: an NB change replaces them without leftovers.
        stack
            .nbctl([
                "--wait=sb",
                "lsp-set-addresses",
                "p1",
                "00:00:00:00:00:02 10.0.0.2",
            ])
            .expect("nbctl");
        let flows = stack.logical_flows().expect("flows");
        assert!(!flows
            .iter()
            .any(|f| f.match_expr.contains("00:00:00:00:00:01")));
        assert_eq!(
            flows
                .iter()
                .filter(|f| f.match_expr == "eth.dst == 00:00:00:00:00:02")
                .count(),
            1
        );
    }

    /// An `IGMP_Group` row a chassis writes becomes a multicast group and its flow; a row that
    /// lost its chassis is deleted; the group goes when its last row goes.
    #[test]
    fn follows_igmp_groups() {
        let ovn = testkit::require_or_skip!();
        let Some(stack) = stack_with_our_northd(&ovn) else {
            return;
        };
        stack
            .nbctl([
                "ls-add", "sw0", "--", "lsp-add", "sw0", "p1", "--", "lsp-add", "sw0", "p2",
            ])
            .expect("nbctl");
        stack.wait_sb().expect("wait sb");
        stack
            .sbctl(["chassis-add", "ch1", "geneve", "127.0.0.1"])
            .expect("chassis-add");
        let uuid = |table: &str, cond: &str| {
            stack
                .sbctl(["--bare", "--columns", "_uuid", "find", table, cond])
                .expect("sbctl")
                .trim()
                .to_owned()
        };
        let dp = uuid("Datapath_Binding", "external_ids:name=sw0");
        let p1 = uuid("Port_Binding", "logical_port=p1");
        let ch = uuid("Chassis", "name=ch1");
        let group = stack
            .sbctl([
                "create",
                "IGMP_Group",
                "address=239.1.2.3",
                &format!("datapath={dp}"),
                &format!("chassis={ch}"),
                &format!("ports=[{p1}]"),
            ])
            .expect("create IGMP_Group");
        let stale = stack
            .sbctl([
                "create",
                "IGMP_Group",
                "address=239.1.2.4",
                &format!("datapath={dp}"),
                &format!("ports=[{p1}]"),
            ])
            .expect("create IGMP_Group");
        let groups = || {
            stack
                .sbctl(["--bare", "--columns=name", "list", "Multicast_Group"])
                .expect("sbctl")
        };
        let rows = || {
            stack
                .sbctl(["--bare", "--columns=_uuid", "list", "IGMP_Group"])
                .expect("sbctl")
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !groups().contains("239.1.2.3") || rows().contains(stale.trim()) {
            assert!(
                std::time::Instant::now() < deadline,
                "groups {} rows {}",
                groups(),
                rows()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!groups().contains("239.1.2.4"));
        let flows = stack.logical_flows().expect("flows");
        assert!(flows.iter().any(|f| f.stage == "ls_in_l2_lkup"
            && f.priority == 90
            && f.match_expr == "eth.mcast && ip4 && ip4.dst == 239.1.2.3 "
            && f.actions == "outport = \"239.1.2.3\"; output; "));
        stack
            .sbctl(["destroy", "IGMP_Group", group.trim()])
            .expect("destroy");
        while groups().contains("239.1.2.3") {
            assert!(std::time::Instant::now() < deadline, "group kept");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// The parse step's typed snapshot, compared with the table-by-table conversion it replaced and
/// with `NbSnapshot::from_json`.
#[cfg(test)]
mod parse_tests {
    use std::sync::Arc;

    use ovsdb::client::update::{Update, UpdateFormat};
    use ovsdb::client::MonitorSpec;
    use serde_json::{json, Value};

    use super::*;

    /// The typed rows of `T`'s table in `rep`, one row after the other (the conversion the
    /// parse step made before its tables were typed in parts).
    fn typed_rows<T: Model>(rep: &Replica) -> Result<Rows<T>, String> {
        let Some(view) = rep.table(T::TABLE) else {
            return Ok(Rows::new());
        };
        let layout = T::row_layout(view.schema());
        let mut rows: Vec<&ovsdb::client::Row> = view.rows().map(|r| &**r).collect();
        rows.sort_unstable_by_key(|r| r.uuid());
        rows.into_iter()
            .map(|r| {
                T::from_row_in(r.as_row(), &layout)
                    .map(|m| (m.uuid(), m))
                    .map_err(|e| format!("{}: {e}", T::TABLE))
            })
            .collect()
    }

    /// The NB snapshot as the parse step made it before (its tables in the same order: the
    /// ports, then load balancers, switches and routers, then the rest).
    fn nb_snapshot_one_by_one(rep: &Replica) -> Result<NbSnapshot, String> {
        let switch_ports = typed_rows::<nb::LogicalSwitchPort>(rep)?;
        let load_balancers = typed_rows(rep)?;
        let switches = typed_rows(rep)?;
        let routers = typed_rows(rep)?;
        let mut globals = typed_rows::<nb::NbGlobal>(rep)?;
        Ok(NbSnapshot {
            nb_global: globals.pop_first().map(|(_, g)| g),
            switches,
            switch_ports,
            routers,
            router_ports: typed_rows(rep)?,
            acls: typed_rows(rep)?,
            address_sets: typed_rows(rep)?,
            port_groups: typed_rows(rep)?,
            load_balancers,
            lb_groups: typed_rows(rep)?,
            lb_health_checks: typed_rows(rep)?,
            qos: typed_rows(rep)?,
            meters: typed_rows(rep)?,
            meter_bands: typed_rows(rep)?,
            dhcp_options: typed_rows(rep)?,
            dns: typed_rows(rep)?,
            static_routes: typed_rows(rep)?,
            policies: typed_rows(rep)?,
            nats: typed_rows(rep)?,
            gateway_chassis: typed_rows(rep)?,
            ha_chassis_groups: typed_rows(rep)?,
            ha_chassis: typed_rows(rep)?,
            bfd: typed_rows(rep)?,
            static_mac_bindings: typed_rows(rep)?,
            copp: typed_rows(rep)?,
            forwarding_groups: typed_rows(rep)?,
            mirrors: typed_rows(rep)?,
            template_vars: typed_rows(rep)?,
        })
    }

    /// A replica of every NB table filled with `tables` (table name to an array of JSON rows
    /// with `_uuid`) as a monitor's first reply fills it; values are not checked against the
    /// schema's constraints, as the client does not check what the server sends.
    fn nb_replica(tables: &Value) -> Replica {
        let schema = Arc::new(nb::NbGlobal::schema().clone());
        let selection = MonitorSpec::default().selections(&schema);
        let mut rep = Replica::new(schema.clone(), &selection, &[]).expect("replica");
        let mut update = serde_json::Map::new();
        for (table, rows) in tables.as_object().expect("tables") {
            let mut by_uuid = serde_json::Map::new();
            for row in rows.as_array().expect("rows") {
                let mut row = row.as_object().expect("row").clone();
                let uuid = row.remove("_uuid").expect("_uuid")[1]
                    .as_str()
                    .expect("uuid")
                    .to_owned();
                by_uuid.insert(uuid, json!({ "initial": row }));
            }
            update.insert(table.clone(), Value::Object(by_uuid));
        }
        let update = Update::parse(
            &schema,
            &Value::Object(update),
            UpdateFormat::V2,
            "snapshot",
        )
        .expect("update");
        rep.reset_owned(update).expect("snapshot");
        rep
    }

    fn uuid(kind: u128, i: usize) -> Value {
        json!([
            "uuid",
            Uuid::from_u128((kind << 64) | (i as u128 * 0x9e37_79b9 % 1_000_003)).to_string()
        ])
    }

    const PROTOCOLS: [&str; 3] = ["tcp", "udp", "sctp"];
    const DIRECTIONS: [&str; 2] = ["from-lport", "to-lport"];
    const ACTIONS: [&str; 4] = ["allow-related", "drop", "allow", "reject"];

    /// An NB with more rows than a part in its biggest tables and values of every shape:
    /// scalars, optional values present and absent, sets, maps, enums, references.
    fn varied_nb() -> Value {
        let ports: Vec<Value> = (0..5000)
            .map(|i| {
                let mut row = json!({
                    "_uuid": uuid(1, i),
                    "name": format!("ns{}_pod{i}", i % 7),
                    "type": if i % 9 == 0 { "router" } else { "" },
                    "addresses": ["set", [format!("0a:58:0a:00:{:02x}:{:02x} 10.0.{}.{}", i / 256 % 256, i % 256, i / 256, i % 256), "unknown"]],
                    "port_security": if i % 3 == 0 { json!(["set", []]) } else { json!(format!("0a:58:0a:00:00:{:02x}", i % 256)) },
                    "options": ["map", [["requested-chassis", format!("node{}", i % 11)], ["iface-id-ver", format!("{i}")]]],
                    "external_ids": ["map", [["namespace", format!("ns{}", i % 7)], ["pod", "true"]]],
                    "up": if i % 2 == 0 { json!(true) } else { json!(["set", []]) },
                    "tag_request": if i % 5 == 0 { json!(i % 4096) } else { json!(["set", []]) },
                });
                if i % 4 == 0 {
                    row["dhcpv4_options"] = uuid(9, i % 3);
                }
                row
            })
            .collect();
        let lbs: Vec<Value> = (0..3000)
            .map(|i| {
                json!({
                    "_uuid": uuid(2, i),
                    "name": format!("svc{i}"),
                    "protocol": PROTOCOLS[i % 3],
                    "vips": ["map", [[format!("172.30.{}.{}:80", i / 250, i % 250), format!("10.128.0.{}:8080,10.128.1.{}:8080", i % 250, i % 200)]]],
                    "options": ["map", [["reject", "true"], ["affinity_timeout", format!("{}", i % 100)]]],
                    "selection_fields": if i % 7 == 0 { json!(["set", ["ip_dst", "ip_src"]]) } else { json!(["set", []]) },
                })
            })
            .collect();
        let switches: Vec<Value> = (0..50)
            .map(|w| {
                json!({
                    "_uuid": uuid(3, w),
                    "name": format!("node{w}"),
                    "ports": ["set", (0..100).map(|p| uuid(1, w * 100 + p)).collect::<Vec<_>>()],
                    "load_balancer": ["set", (0..60).map(|l| uuid(2, w * 60 + l)).collect::<Vec<_>>()],
                    "other_config": ["map", [["subnet", format!("10.{w}.0.0/16")]]],
                })
            })
            .collect();
        let acls: Vec<Value> = (0..2500)
            .map(|i| {
                json!({
                    "_uuid": uuid(4, i),
                    "priority": i % 32768,
                    "direction": DIRECTIONS[i % 2],
                    "match": format!("ip4.src == 10.0.{}.{}", i / 256, i % 256),
                    "action": ACTIONS[i % 4],
                    "log": i % 2 == 0,
                    "severity": if i % 3 == 0 { json!("info") } else { json!(["set", []]) },
                    "name": if i % 5 == 0 { json!(format!("acl{i}")) } else { json!(["set", []]) },
                })
            })
            .collect();
        let groups: Vec<Value> = (0..40)
            .map(|g| {
                json!({
                    "_uuid": uuid(5, g),
                    "name": format!("pg{g}"),
                    "ports": ["set", (0..30).map(|p| uuid(1, g * 30 + p)).collect::<Vec<_>>()],
                    "acls": ["set", (0..10).map(|a| uuid(4, g * 10 + a)).collect::<Vec<_>>()],
                })
            })
            .collect();
        let mut tables = json!({
            "NB_Global": [{"_uuid": uuid(6, 0), "nb_cfg": 7, "options": ["map", [["mac_prefix", "0a:00:00"]]]}],
            "Logical_Switch_Port": ports,
            "Load_Balancer": lbs,
            "Logical_Switch": switches,
            "ACL": acls,
            "Port_Group": groups,
            "Logical_Router": [{"_uuid": uuid(7, 0), "name": "cluster", "ports": ["set", [uuid(10, 0)]], "options": ["map", [["always_learn_from_arp_request", "false"]]]}],
            "Logical_Router_Port": [{"_uuid": uuid(10, 0), "name": "rtos-node0", "mac": "0a:58:0a:00:00:01", "networks": ["set", ["10.0.0.1/24", "fd00::1/64"]]}],
            "Address_Set": [{"_uuid": uuid(11, 0), "name": "as0", "addresses": ["set", (0..3000).map(|i| format!("10.1.{}.{}", i / 256, i % 256)).collect::<Vec<_>>()]}],
            "DHCP_Options": [{"_uuid": uuid(9, 0), "cidr": "10.0.0.0/24", "options": ["map", [["lease_time", "3600"]]]}],
            "Meter": [{"_uuid": uuid(12, 0), "name": "acl-logging", "unit": "pktps", "bands": ["set", [uuid(13, 0)]], "fair": true}],
            "Meter_Band": [{"_uuid": uuid(13, 0), "action": "drop", "rate": 20}],
        });
        // Every row with a `_version`: the replica holds one for every row (nil when none
        // came), the JSON conversion none where the row has none.
        let mut n = 0;
        for rows in tables
            .as_object_mut()
            .into_iter()
            .flat_map(|t| t.values_mut())
        {
            for row in rows.as_array_mut().into_iter().flatten() {
                n += 1;
                if row.get("_version").is_none() {
                    row["_version"] = uuid(8, n);
                }
            }
        }
        tables
    }

    fn both(tables: &Value) -> (Result<String, String>, Result<String, String>) {
        let rep = nb_replica(tables);
        let one_by_one = nb_snapshot_one_by_one(&rep).map(|s| format!("{s:?}"));
        let in_parts = nb_snapshot(&rep).map(|s| format!("{s:?}"));
        (one_by_one, in_parts)
    }

    #[test]
    fn snapshot_in_parts_is_the_one_by_one_snapshot() {
        let tables = varied_nb();
        let (one_by_one, in_parts) = both(&tables);
        let in_parts = in_parts.expect("snapshot");
        assert_eq!(one_by_one.expect("snapshot"), in_parts);
        let rep = nb_replica(&tables);
        let s = nb_snapshot(&rep).expect("snapshot");
        assert_eq!(s.switch_ports.len(), 5000);
        assert_eq!(s.load_balancers.len(), 3000);
        assert_eq!(s.acls.len(), 2500);
        // The generic conversion of the same rows.
        let from_json = NbSnapshot::from_json(&tables).expect("from_json");
        assert_eq!(format!("{from_json:?}"), in_parts);
    }

    /// Values the client does not check (constraints, minimum sizes) are still reported, and
    /// as before: the same message, for the same table and row when several are bad.
    #[test]
    fn bad_values_are_reported_as_before() {
        let bad: [(&str, usize, &str, Value); 7] = [
            ("ACL", 17, "action", json!("bogus")),
            ("ACL", 2400, "priority", json!(40000)),
            ("Logical_Switch_Port", 4999, "tag_request", json!(5000)),
            ("Logical_Switch_Port", 10, "name", json!(["set", []])),
            ("Load_Balancer", 2000, "protocol", json!("icmp")),
            ("ACL", 3, "severity", json!("loud")),
            ("Meter_Band", 0, "action", json!("pass")),
        ];
        let mut errors = Vec::new();
        // Each bad value alone, then every pair (the first reported as before).
        for i in 0..bad.len() {
            for j in i..bad.len() {
                let mut tables = varied_nb();
                for (table, row, column, value) in [&bad[i], &bad[j]] {
                    tables[*table][*row][*column] = value.clone();
                }
                let (one_by_one, in_parts) = both(&tables);
                let want = one_by_one.expect_err("bad value");
                assert_eq!(in_parts.expect_err("bad value"), want);
                errors.push(want);
            }
        }
        assert!(errors[0].contains("bogus"), "{}", errors[0]);
        assert!(errors.iter().any(|e| e.contains("40000")));
    }

    /// Times the parse of the NB in `NORTHD_PARSE_NB` (table name to rows, as the northd
    /// scale test saves them) `NORTHD_PARSE_ROUNDS` times (3), for profilers
    /// (`valgrind --tool=callgrind --toggle-collect='*typed_replicas*'`); checks that the
    /// snapshot is the one-by-one snapshot.
    #[test]
    #[ignore = "profiling run; NORTHD_PARSE_NB=FILE, --release -- --ignored"]
    fn parse_saved_nb() {
        let Ok(path) = std::env::var("NORTHD_PARSE_NB") else {
            eprintln!("skipped: set NORTHD_PARSE_NB");
            return;
        };
        let tables: Value =
            serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
        let rep = nb_replica(&tables);
        drop(tables);
        let rounds: usize = std::env::var("NORTHD_PARSE_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(3);
        for _ in 0..rounds {
            let t = Instant::now();
            let s = nb_snapshot(&rep).expect("snapshot");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            eprintln!(
                "in parts: {ms:.1} ms ({} ports, {} load balancers)",
                s.switch_ports.len(),
                s.load_balancers.len()
            );
            let t = Instant::now();
            let old = nb_snapshot_one_by_one(&rep).expect("snapshot");
            eprintln!("one by one: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
            if std::env::var("NORTHD_PARSE_COMPARE").is_ok() {
                assert_eq!(format!("{s:?}"), format!("{old:?}"));
            }
        }
    }
}
