//! The full stack: NB and SB databases, northd, and one chassis (Open_vSwitch
//! database, ovs-vswitchd with `br-int`, ovn-controller), each piece real,
//! external, or absent.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::lflow::{parse_lflow_list, LogicalFlow};
use crate::process::DaemonInfo;
use crate::sandbox::{list_dbs, OvsdbServer, Sandbox};
use crate::toolbox::{Schema, Tool, Toolbox};
use crate::trace::{parse_dpif_show, DatapathPort, OfprotoTrace};

/// The integration bridge the stack creates.
pub const BRIDGE: &str = "br-int";

/// In [`NorthdSource::Command`] arguments, replaced by the NB remote.
pub const NB_PLACEHOLDER: &str = "{nb}";
/// In [`NorthdSource::Command`] arguments, replaced by the SB remote.
pub const SB_PLACEHOLDER: &str = "{sb}";
/// In [`NorthdSource::Command`] arguments, replaced by the sandbox directory.
pub const DIR_PLACEHOLDER: &str = "{dir}";

/// Who serves a database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DbSource {
    /// A real `ovsdb-server` started in the sandbox from the installed schema.
    #[default]
    Real,
    /// A server some other code started (ours, or a real cluster), reached at
    /// `remote` (`unix:PATH` or `tcp:HOST:PORT`). The stack waits until it
    /// answers `list_dbs` but never starts or stops it.
    External {
        /// Remote string as OVS tools take it.
        remote: String,
    },
}

/// Who translates NB into SB.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NorthdSource {
    /// The real `ovn-northd`.
    #[default]
    Real,
    /// Nobody: SB stays as written by the test. `wait_sb`/`wait_hv` then time out.
    None,
    /// Another program, started as a sandbox daemon named `northd`. In `args`,
    /// [`NB_PLACEHOLDER`], [`SB_PLACEHOLDER`] and [`DIR_PLACEHOLDER`] are
    /// replaced (also inside longer arguments, e.g. `--nb={nb}`).
    Command {
        /// Path of the program.
        program: PathBuf,
        /// Its arguments, with placeholders.
        args: Vec<String>,
    },
}

/// A daemon of the stack, for [`Stack::appctl`] and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// The NB `ovsdb-server`.
    Nb,
    /// The SB `ovsdb-server`.
    Sb,
    /// The Open_vSwitch `ovsdb-server`.
    OpenVswitch,
    /// `ovn-northd` (or its replacement).
    Northd,
    /// `ovs-vswitchd`.
    Vswitchd,
    /// `ovn-controller`.
    Controller,
}

impl Component {
    fn label(self) -> &'static str {
        match self {
            Self::Nb => "NB ovsdb-server",
            Self::Sb => "SB ovsdb-server",
            Self::OpenVswitch => "Open_vSwitch ovsdb-server",
            Self::Northd => "northd",
            Self::Vswitchd => "ovs-vswitchd",
            Self::Controller => "ovn-controller",
        }
    }
}

#[derive(Debug, Clone)]
struct ChassisSpec {
    name: String,
    encap_ip: String,
    controller: bool,
    ovs: DbSource,
}

/// Configures and starts a [`Stack`]. By default everything is real, with one
/// chassis `ch1` (encap `geneve` on 127.0.0.1).
#[derive(Debug, Clone)]
pub struct StackBuilder {
    toolbox: Toolbox,
    nb: DbSource,
    sb: DbSource,
    northd: NorthdSource,
    chassis: Option<ChassisSpec>,
}

impl StackBuilder {
    /// Everything real, chassis `ch1`.
    pub fn new(toolbox: Toolbox) -> Self {
        Self {
            toolbox,
            nb: DbSource::Real,
            sb: DbSource::Real,
            northd: NorthdSource::Real,
            chassis: Some(ChassisSpec {
                name: "ch1".to_owned(),
                encap_ip: "127.0.0.1".to_owned(),
                controller: true,
                ovs: DbSource::Real,
            }),
        }
    }

    /// Who serves OVN_Northbound.
    pub fn nb(mut self, source: DbSource) -> Self {
        self.nb = source;
        self
    }

    /// Who serves OVN_Southbound.
    pub fn sb(mut self, source: DbSource) -> Self {
        self.sb = source;
        self
    }

    /// Who serves Open_vSwitch (only used with a chassis).
    pub fn open_vswitch(mut self, source: DbSource) -> Self {
        if let Some(c) = &mut self.chassis {
            c.ovs = source;
        }
        self
    }

    /// Who runs northd.
    pub fn northd(mut self, source: NorthdSource) -> Self {
        self.northd = source;
        self
    }

    /// Names the chassis (`external_ids:system-id`), adding one if there was none.
    pub fn chassis(mut self, name: &str) -> Self {
        let spec = self.chassis.get_or_insert_with(|| ChassisSpec {
            name: String::new(),
            encap_ip: "127.0.0.1".to_owned(),
            controller: true,
            ovs: DbSource::Real,
        });
        spec.name = name.to_owned();
        self
    }

    /// Sets the chassis' `ovn-encap-ip`.
    pub fn encap_ip(mut self, ip: &str) -> Self {
        if let Some(c) = &mut self.chassis {
            c.encap_ip = ip.to_owned();
        }
        self
    }

    /// Whether to run `ovn-controller` (default yes). Without it the chassis
    /// still has its Open_vSwitch database, `ovs-vswitchd` and `br-int`, so
    /// flows computed elsewhere can be installed with `ovs-ofctl`.
    pub fn controller(mut self, run: bool) -> Self {
        if let Some(c) = &mut self.chassis {
            c.controller = run;
        }
        self
    }

    /// No chassis: no Open_vSwitch database, `ovs-vswitchd` or `ovn-controller`.
    pub fn no_chassis(mut self) -> Self {
        self.chassis = None;
        self
    }

    fn needed_tools(&self) -> Vec<Tool> {
        let mut t = vec![Tool::OvnNbctl, Tool::OvnSbctl, Tool::OvnAppctl];
        let ovs_real = self
            .chassis
            .as_ref()
            .is_some_and(|c| c.ovs == DbSource::Real);
        if self.nb == DbSource::Real || self.sb == DbSource::Real || ovs_real {
            t.extend([Tool::OvsdbServer, Tool::OvsdbTool]);
        }
        if self.northd == NorthdSource::Real {
            t.push(Tool::OvnNorthd);
        }
        if let Some(c) = &self.chassis {
            t.extend([
                Tool::OvsVswitchd,
                Tool::OvsVsctl,
                Tool::OvsOfctl,
                Tool::OvsAppctl,
            ]);
            if c.controller {
                t.push(Tool::OvnController);
            }
        }
        t
    }

    /// Starts everything, waiting for each piece to be ready; with a northd and
    /// a controller, returns only after `ovn-nbctl --wait=hv sync` succeeded.
    /// On error, whatever was started is stopped and the directory removed.
    pub fn build(self) -> Result<Stack> {
        for tool in self.needed_tools() {
            self.toolbox.find(tool)?;
        }
        let mut sandbox = Sandbox::new(&self.toolbox)?;
        let (nb, nb_remote) = start_db(&mut sandbox, "nb", Schema::Northbound, &self.nb)?;
        let (sb, sb_remote) = start_db(&mut sandbox, "sb", Schema::Southbound, &self.sb)?;

        let northd = match &self.northd {
            NorthdSource::Real => Some(sandbox.start_northd(&nb_remote, &sb_remote)?),
            NorthdSource::None => None,
            NorthdSource::Command { program, args } => {
                let dir = sandbox.dir().display().to_string();
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        a.replace(NB_PLACEHOLDER, &nb_remote)
                            .replace(SB_PLACEHOLDER, &sb_remote)
                            .replace(DIR_PLACEHOLDER, &dir)
                    })
                    .collect();
                Some(sandbox.start_program("northd", program, &args)?)
            }
        };

        let mut stack = Stack {
            sandbox,
            nb_remote,
            sb_remote,
            ovs_remote: None,
            nb,
            sb,
            ovs: None,
            northd,
            northd_enabled: self.northd != NorthdSource::None,
            vswitchd: None,
            controller: None,
            chassis: None,
        };
        if let Some(spec) = &self.chassis {
            stack.start_chassis(spec)?;
        }
        if stack.northd_enabled {
            let watch: Vec<u32> = stack.northd.iter().map(DaemonInfo::pid).collect();
            let args = stack.nb_args(["--wait=sb", "sync"]);
            stack
                .sandbox
                .wait_for("northd (ovn-nbctl --wait=sb sync)", &watch, |sb, left| {
                    sb.run_with_timeout(Tool::OvnNbctl, &args, left)
                        .map(drop)
                        .map_err(|e| e.to_string())
                })?;
            if let Some(ctl) = &stack.controller {
                let watch = [watch, vec![ctl.pid()]].concat();
                let args = stack.nb_args(["--wait=hv", "sync"]);
                stack.sandbox.wait_for(
                    "chassis (ovn-nbctl --wait=hv sync)",
                    &watch,
                    |sb, left| {
                        sb.run_with_timeout(Tool::OvnNbctl, &args, left)
                            .map(drop)
                            .map_err(|e| e.to_string())
                    },
                )?;
            }
        }
        Ok(stack)
    }
}

fn start_db(
    sandbox: &mut Sandbox,
    name: &str,
    schema: Schema,
    source: &DbSource,
) -> Result<(Option<OvsdbServer>, String)> {
    match source {
        DbSource::Real => {
            let path = sandbox.toolbox().schema(schema)?;
            let server = sandbox.start_ovsdb_server(name, &path)?;
            let remote = server.remote();
            Ok((Some(server), remote))
        }
        DbSource::External { remote } => {
            let expected = schema.db_name();
            sandbox.wait_for(
                &format!("external {expected} server at {remote}"),
                &[],
                |_, _| {
                    let dbs = list_dbs(remote)?;
                    if dbs.iter().any(|d| d == expected) {
                        Ok(())
                    } else {
                        Err(format!("serves {dbs:?}, not {expected}"))
                    }
                },
            )?;
            Ok((None, remote.clone()))
        }
    }
}

/// A running stack in its own [`Sandbox`]; dropping it stops everything and
/// removes the directory.
#[derive(Debug)]
pub struct Stack {
    sandbox: Sandbox,
    nb_remote: String,
    sb_remote: String,
    ovs_remote: Option<String>,
    nb: Option<OvsdbServer>,
    sb: Option<OvsdbServer>,
    ovs: Option<OvsdbServer>,
    northd: Option<DaemonInfo>,
    northd_enabled: bool,
    vswitchd: Option<DaemonInfo>,
    controller: Option<DaemonInfo>,
    chassis: Option<String>,
}

/// An OVS interface bound to a logical switch port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPort {
    /// Interface (and OVS port) name.
    pub name: String,
    /// Logical switch port name (`external_ids:iface-id`).
    pub logical_port: String,
    /// OpenFlow port number on `br-int` (`in_port=` in traces).
    pub ofport: u32,
    /// Datapath port number (what `Datapath actions:` outputs to).
    pub dp_port: u32,
}

impl Stack {
    /// [`Toolbox::system`]'s builder. Prefer [`Toolbox::stack`] after
    /// [`require_or_skip!`](crate::require_or_skip).
    pub fn builder() -> StackBuilder {
        StackBuilder::new(Toolbox::system())
    }

    fn start_chassis(&mut self, spec: &ChassisSpec) -> Result<()> {
        let (ovs, remote) = start_db(&mut self.sandbox, "ovs", Schema::OpenVswitch, &spec.ovs)?;
        self.ovs = ovs;
        self.ovs_remote = Some(remote.clone());
        self.vsctl(["--no-wait", "init"])?;
        let vswitchd = self.sandbox.start_vswitchd(&remote)?;
        // ovs-vsctl waits for ovs-vswitchd to apply the change; watch it meanwhile.
        let add_br = with_db(
            &remote,
            [
                "--may-exist",
                "add-br",
                BRIDGE,
                "--",
                "set",
                "Bridge",
                BRIDGE,
                "datapath_type=dummy",
                "fail-mode=secure",
            ],
        );
        self.sandbox
            .wait_for("ovs-vswitchd (br-int)", &[vswitchd.pid()], |sb, left| {
                sb.run_with_timeout(Tool::OvsVsctl, &add_br, left)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })?;
        self.vswitchd = Some(vswitchd);
        let sb = format!("external_ids:ovn-remote={}", self.sb_remote);
        let id = format!("external_ids:system-id={}", spec.name);
        let ip = format!("external_ids:ovn-encap-ip={}", spec.encap_ip);
        self.vsctl([
            "--no-wait",
            "set",
            "Open_vSwitch",
            ".",
            &id,
            &sb,
            "external_ids:ovn-encap-type=geneve",
            &ip,
        ])?;
        self.chassis = Some(spec.name.clone());
        if spec.controller {
            let ctl = self.sandbox.start_controller(&remote)?;
            let cond = format!("name={}", spec.name);
            let args = self.sb_args(["--bare", "--columns=name", "find", "Chassis", &cond]);
            self.sandbox.wait_for(
                &format!("ovn-controller (chassis {} in SB)", spec.name),
                &[ctl.pid()],
                |sb, left| match sb.run_with_timeout(Tool::OvnSbctl, &args, left) {
                    Ok(out) if !out.trim().is_empty() => Ok(()),
                    Ok(_) => Err("no Chassis row yet".to_owned()),
                    Err(e) => Err(e.to_string()),
                },
            )?;
            self.controller = Some(ctl);
        }
        Ok(())
    }

    /// The sandbox (directory, daemons, [`Sandbox::run`]).
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The sandbox, e.g. to start more daemons or stop one.
    pub fn sandbox_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &std::path::Path {
        self.sandbox.dir()
    }

    /// Pids of every daemon the stack started (external servers excluded).
    pub fn pids(&self) -> Vec<u32> {
        self.sandbox.pids()
    }

    /// NB remote (`unix:...`).
    pub fn nb_remote(&self) -> &str {
        &self.nb_remote
    }

    /// SB remote.
    pub fn sb_remote(&self) -> &str {
        &self.sb_remote
    }

    /// Open_vSwitch remote, if the stack has a chassis.
    pub fn ovs_remote(&self) -> Option<&str> {
        self.ovs_remote.as_deref()
    }

    /// The chassis name, if the stack has a chassis.
    pub fn chassis(&self) -> Option<&str> {
        self.chassis.as_deref()
    }

    /// The daemon behind `component`, if the stack started it.
    pub fn daemon(&self, component: Component) -> Option<&DaemonInfo> {
        match component {
            Component::Nb => self.nb.as_ref().map(OvsdbServer::daemon),
            Component::Sb => self.sb.as_ref().map(OvsdbServer::daemon),
            Component::OpenVswitch => self.ovs.as_ref().map(OvsdbServer::daemon),
            Component::Northd => self.northd.as_ref(),
            Component::Vswitchd => self.vswitchd.as_ref(),
            Component::Controller => self.controller.as_ref(),
        }
    }

    fn nb_args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Vec<OsString> {
        with_db(&self.nb_remote, args)
    }

    fn sb_args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Vec<OsString> {
        with_db(&self.sb_remote, args)
    }

    /// `ovn-nbctl --db=NB ARGS...`; stdout.
    pub fn nbctl<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Result<String> {
        self.sandbox.run(Tool::OvnNbctl, self.nb_args(args))
    }

    /// `ovn-sbctl --db=SB ARGS...`; stdout.
    pub fn sbctl<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Result<String> {
        self.sandbox.run(Tool::OvnSbctl, self.sb_args(args))
    }

    /// `ovs-vsctl --db=OVS ARGS...`; stdout. Needs a chassis.
    pub fn vsctl<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Result<String> {
        let remote = self.ovs_remote.as_deref().ok_or(Error::NotConfigured {
            component: "Open_vSwitch database",
        })?;
        self.sandbox.run(Tool::OvsVsctl, with_db(remote, args))
    }

    /// `ovs-ofctl ARGS...` (bridges are reached through `OVS_RUNDIR`); stdout.
    pub fn ofctl<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Result<String> {
        self.require_vswitchd()?;
        self.sandbox.run(Tool::OvsOfctl, args)
    }

    /// `ovs-appctl -t SOCKET ARGS...` (`ovn-appctl` for OVN daemons) on a
    /// daemon the stack started; stdout.
    pub fn appctl<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(
        &self,
        component: Component,
        args: I,
    ) -> Result<String> {
        let ctl = self
            .daemon(component)
            .and_then(DaemonInfo::control_socket)
            .ok_or(Error::NotConfigured {
                component: component.label(),
            })?;
        let tool = match component {
            Component::Northd | Component::Controller => Tool::OvnAppctl,
            _ => Tool::OvsAppctl,
        };
        let mut all: Vec<OsString> = vec!["-t".into(), ctl.into()];
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self.sandbox.run(tool, all)
    }

    /// `ovn-trace --db=SB ARGS...`; stdout.
    pub fn ovn_trace<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Result<String> {
        self.sandbox.run(Tool::OvnTrace, self.sb_args(args))
    }

    /// Waits until northd has processed the current NB (`ovn-nbctl --wait=sb sync`).
    pub fn wait_sb(&self) -> Result<()> {
        self.sync("sb", &[Component::Northd])
    }

    /// Waits until every chassis has caught up (`ovn-nbctl --wait=hv sync`).
    pub fn wait_hv(&self) -> Result<()> {
        self.sync("hv", &[Component::Northd, Component::Controller])
    }

    fn sync(&self, level: &str, watch: &[Component]) -> Result<()> {
        let wait = format!("--wait={level}");
        let start = std::time::Instant::now();
        self.nbctl([wait.as_str(), "sync"]).map(drop).map_err(|e| {
            let pids: Vec<u32> = watch
                .iter()
                .filter_map(|c| self.daemon(*c).map(DaemonInfo::pid))
                .collect();
            Error::NotReady {
                component: format!("ovn-nbctl {wait} sync"),
                waited: start.elapsed(),
                detail: e.to_string(),
                log_tail: self.sandbox.log_tails(&pids),
            }
        })
    }

    /// `ovn-sbctl lflow-list` as text.
    pub fn lflow_list(&self) -> Result<String> {
        self.sbctl(["lflow-list"])
    }

    /// `ovn-sbctl --uuid lflow-list`, parsed.
    pub fn logical_flows(&self) -> Result<Vec<LogicalFlow>> {
        parse_lflow_list(&self.sbctl(["--uuid", "lflow-list"])?)
    }

    /// `ovs-ofctl -O OpenFlow15 dump-flows br-int --no-stats`.
    pub fn dump_flows(&self) -> Result<String> {
        self.ofctl(["-O", "OpenFlow15", "dump-flows", BRIDGE, "--no-stats"])
    }

    /// The ports of every bridge as `ovs-vswitchd` sees them (`dpif/show`).
    pub fn datapath_ports(&self) -> Result<Vec<DatapathPort>> {
        parse_dpif_show(&self.appctl(Component::Vswitchd, ["dpif/show"])?)
    }

    /// Adds interface `name` (type `dummy`) to `br-int` with
    /// `external_ids:iface-id=logical_port`, so the chassis claims that port.
    /// Returns its OpenFlow and datapath port numbers. Does not wait for the
    /// binding: call [`wait_hv`](Self::wait_hv) after binding all ports.
    pub fn bind_port(&self, name: &str, logical_port: &str) -> Result<BoundPort> {
        let iface_id = format!("external_ids:iface-id={logical_port}");
        self.vsctl([
            "add-port",
            BRIDGE,
            name,
            "--",
            "set",
            "Interface",
            name,
            "type=dummy",
            &iface_id,
        ])?;
        let text = self.vsctl(["get", "Interface", name, "ofport"])?;
        let ofport = text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|p| *p > 0 && *p < 0xff00)
            .ok_or(Error::Parse {
                what: "ofport",
                text: text.trim().to_owned(),
            })?;
        let dp_port = self
            .datapath_ports()?
            .into_iter()
            .find(|p| p.bridge == BRIDGE && p.name == name)
            .map(|p| p.dp_port)
            .ok_or(Error::Parse {
                what: "dpif/show (port missing)",
                text: name.to_owned(),
            })?;
        Ok(BoundPort {
            name: name.to_owned(),
            logical_port: logical_port.to_owned(),
            ofport,
            dp_port,
        })
    }

    /// `ofproto/trace br-int FLOW` on `ovs-vswitchd`, e.g.
    /// `in_port=1,dl_src=...,dl_dst=...,ip,nw_src=...,nw_dst=...`.
    pub fn ofproto_trace(&self, flow: &str) -> Result<OfprotoTrace> {
        OfprotoTrace::parse(self.appctl(Component::Vswitchd, ["ofproto/trace", BRIDGE, flow])?)
    }

    fn require_vswitchd(&self) -> Result<()> {
        self.vswitchd
            .as_ref()
            .map(drop)
            .ok_or(Error::NotConfigured {
                component: "ovs-vswitchd",
            })
    }
}

fn with_db<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(remote: &str, args: I) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![format!("--db={remote}").into()];
    v.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
    v
}
