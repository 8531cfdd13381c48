//! Finding the real OVN/OVS programs and schema files, and deciding whether a
//! test runs, is skipped, or fails because they are missing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::sandbox::Sandbox;
use crate::stack::StackBuilder;

/// A program of the OVN 23.03 / OVS 3.1 packages that the harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `ovsdb-server`.
    OvsdbServer,
    /// `ovsdb-tool`.
    OvsdbTool,
    /// `ovs-vswitchd`.
    OvsVswitchd,
    /// `ovs-vsctl`.
    OvsVsctl,
    /// `ovs-ofctl`.
    OvsOfctl,
    /// `ovs-appctl`.
    OvsAppctl,
    /// `ovn-northd`.
    OvnNorthd,
    /// `ovn-controller`.
    OvnController,
    /// `ovn-nbctl`.
    OvnNbctl,
    /// `ovn-sbctl`.
    OvnSbctl,
    /// `ovn-appctl`.
    OvnAppctl,
    /// `ovn-trace`.
    OvnTrace,
}

impl Tool {
    /// Every tool, in the order they are checked.
    pub const ALL: [Self; 12] = [
        Self::OvsdbServer,
        Self::OvsdbTool,
        Self::OvsVswitchd,
        Self::OvsVsctl,
        Self::OvsOfctl,
        Self::OvsAppctl,
        Self::OvnNorthd,
        Self::OvnController,
        Self::OvnNbctl,
        Self::OvnSbctl,
        Self::OvnAppctl,
        Self::OvnTrace,
    ];

    /// The executable's file name.
    pub fn program(self) -> &'static str {
        match self {
            Self::OvsdbServer => "ovsdb-server",
            Self::OvsdbTool => "ovsdb-tool",
            Self::OvsVswitchd => "ovs-vswitchd",
            Self::OvsVsctl => "ovs-vsctl",
            Self::OvsOfctl => "ovs-ofctl",
            Self::OvsAppctl => "ovs-appctl",
            Self::OvnNorthd => "ovn-northd",
            Self::OvnController => "ovn-controller",
            Self::OvnNbctl => "ovn-nbctl",
            Self::OvnSbctl => "ovn-sbctl",
            Self::OvnAppctl => "ovn-appctl",
            Self::OvnTrace => "ovn-trace",
        }
    }

    /// The Debian (bookworm) package that ships it.
    pub fn package(self) -> &'static str {
        match self {
            Self::OvsdbServer | Self::OvsdbTool | Self::OvsOfctl | Self::OvsAppctl => {
                "openvswitch-common"
            }
            Self::OvsVswitchd | Self::OvsVsctl => "openvswitch-switch",
            Self::OvnNorthd => "ovn-central",
            Self::OvnController => "ovn-host",
            Self::OvnNbctl | Self::OvnSbctl | Self::OvnAppctl | Self::OvnTrace => "ovn-common",
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// A database schema shipped by the installed packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schema {
    /// `ovn-nb.ovsschema` (OVN_Northbound).
    Northbound,
    /// `ovn-sb.ovsschema` (OVN_Southbound).
    Southbound,
    /// `vswitch.ovsschema` (Open_vSwitch).
    OpenVswitch,
}

impl Schema {
    /// Every schema.
    pub const ALL: [Self; 3] = [Self::Northbound, Self::Southbound, Self::OpenVswitch];

    /// The schema's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Northbound => "ovn-nb.ovsschema",
            Self::Southbound => "ovn-sb.ovsschema",
            Self::OpenVswitch => "vswitch.ovsschema",
        }
    }

    /// The database name the schema declares.
    pub fn db_name(self) -> &'static str {
        match self {
            Self::Northbound => "OVN_Northbound",
            Self::Southbound => "OVN_Southbound",
            Self::OpenVswitch => "Open_vSwitch",
        }
    }

    /// The Debian package that ships it.
    pub fn package(self) -> &'static str {
        match self {
            Self::Northbound | Self::Southbound => "ovn-central",
            Self::OpenVswitch => "openvswitch-switch",
        }
    }
}

/// One missing prerequisite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A program is not on the search path.
    Tool(Tool),
    /// A schema file was not found.
    Schema(Schema),
}

impl Missing {
    /// The Debian package that provides it.
    pub fn package(self) -> &'static str {
        match self {
            Self::Tool(t) => t.package(),
            Self::Schema(s) => s.package(),
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tool(t) => write!(f, "{} (Debian package {})", t.program(), t.package()),
            Self::Schema(s) => write!(f, "{} (Debian package {})", s.file_name(), s.package()),
        }
    }
}

/// Why a test that needs the real OVN was skipped: the prerequisites that are missing.
///
/// Returned (rather than a panic) only when `CI` is not `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    missing: Vec<Missing>,
}

impl Skip {
    /// The missing prerequisites (never empty).
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// The Debian packages to install, deduplicated, in first-seen order.
    pub fn packages(&self) -> Vec<&'static str> {
        packages_of(&self.missing)
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipped: real OVN/OVS not available: missing {}; install with `apt-get install {}` \
             (with CI=true this is a failure)",
            list(&self.missing),
            self.packages().join(" ")
        )
    }
}

fn packages_of(missing: &[Missing]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for m in missing {
        if !out.contains(&m.package()) {
            out.push(m.package());
        }
    }
    out
}

fn list(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where to find programs and schemas, whether we run under CI, and how long to
/// wait for things. Cheap to clone; every [`Sandbox`] keeps its own copy.
///
/// Nothing here reads or writes process-global state after construction:
/// tests override the search path per instance, never through `PATH`.
#[derive(Debug, Clone)]
pub struct Toolbox {
    search_path: Vec<PathBuf>,
    schema_dirs: Vec<PathBuf>,
    dpkg_fallback: bool,
    ci: bool,
    timeout: Duration,
}

/// Directories appended to `PATH` because `ovsdb-server` and `ovs-vswitchd`
/// live in `sbin`, which is not on every user's `PATH`.
const EXTRA_BIN_DIRS: [&str; 4] = ["/usr/local/sbin", "/usr/sbin", "/usr/bin", "/sbin"];
const DEFAULT_SCHEMA_DIRS: [&str; 2] = ["/usr/share/ovn", "/usr/share/openvswitch"];

/// Environment variable that, when set, replaces the whole program search path
/// of [`Toolbox::system`] (`:`-separated), e.g. for OVN installed elsewhere or
/// to simulate missing packages in a child process.
pub const SEARCH_PATH_VAR: &str = "TESTKIT_SEARCH_PATH";

/// Default bound on every readiness wait and every command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

impl Toolbox {
    /// The installed system: `PATH` plus the usual `sbin` directories (or
    /// only [`SEARCH_PATH_VAR`] if set), schemas in `/usr/share/{ovn,openvswitch}`
    /// (else wherever `dpkg -L` says), CI mode if the environment variable `CI`
    /// is `true` or `1`, and [`DEFAULT_TIMEOUT`].
    pub fn system() -> Self {
        let search_path = match std::env::var_os(SEARCH_PATH_VAR) {
            Some(p) => std::env::split_paths(&p).collect(),
            None => {
                let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect())
                    .unwrap_or_default();
                for d in EXTRA_BIN_DIRS {
                    let d = PathBuf::from(d);
                    if !dirs.contains(&d) {
                        dirs.push(d);
                    }
                }
                dirs
            }
        };
        let ci = std::env::var("CI")
            .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
            .unwrap_or(false);
        Self {
            search_path,
            schema_dirs: DEFAULT_SCHEMA_DIRS.iter().map(PathBuf::from).collect(),
            dpkg_fallback: true,
            ci,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Replaces the directories searched for programs.
    pub fn with_search_path<I, P>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.search_path = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the directories searched for schema files and turns off the
    /// `dpkg -L` fallback.
    pub fn with_schema_dirs<I, P>(mut self, dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.schema_dirs = dirs.into_iter().map(Into::into).collect();
        self.dpkg_fallback = false;
        self
    }

    /// Forces CI mode on or off (by default it follows the `CI` variable).
    pub fn with_ci(mut self, ci: bool) -> Self {
        self.ci = ci;
        self
    }

    /// Sets the bound on each readiness wait and each command.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether missing prerequisites are a failure (panic) rather than a skip.
    pub fn is_ci(&self) -> bool {
        self.ci
    }

    /// The bound on each readiness wait and each command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The directories searched for programs.
    pub fn search_path(&self) -> &[PathBuf] {
        &self.search_path
    }

    /// Full path of `tool`, or [`Error::ToolMissing`] naming its package.
    pub fn find(&self, tool: Tool) -> Result<PathBuf> {
        self.search_path
            .iter()
            .map(|d| d.join(tool.program()))
            .find(|p| is_executable(p))
            .ok_or_else(|| Error::ToolMissing {
                program: tool.program(),
                package: tool.package(),
                searched: join_paths(&self.search_path),
            })
    }

    /// Full path of the installed `schema`, or [`Error::SchemaMissing`] naming its package.
    pub fn schema(&self, schema: Schema) -> Result<PathBuf> {
        let name = schema.file_name();
        if let Some(p) = self
            .schema_dirs
            .iter()
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        {
            return Ok(p);
        }
        if self.dpkg_fallback {
            if let Some(p) = dpkg_lookup(schema.package(), name) {
                return Ok(p);
            }
        }
        Err(Error::SchemaMissing {
            file: name,
            package: schema.package(),
            searched: join_paths(&self.schema_dirs),
        })
    }

    /// The prerequisites among `tools` and `schemas` that cannot be found.
    pub fn missing(&self, tools: &[Tool], schemas: &[Schema]) -> Vec<Missing> {
        let t = tools
            .iter()
            .filter(|t| self.find(**t).is_err())
            .map(|t| Missing::Tool(*t));
        let s = schemas
            .iter()
            .filter(|s| self.schema(**s).is_err())
            .map(|s| Missing::Schema(*s));
        t.chain(s).collect()
    }

    /// Checks `tools` and `schemas`. All present: `Ok`. Some missing: in CI mode
    /// this **panics** with a message naming each missing program and its Debian
    /// package; otherwise it returns a [`Skip`] for the test to print and return.
    pub fn require(&self, tools: &[Tool], schemas: &[Schema]) -> Result<(), Skip> {
        let missing = self.missing(tools, schemas);
        if missing.is_empty() {
            return Ok(());
        }
        if self.ci {
            panic!(
                "CI=true and the real OVN/OVS is required, but these are missing: {}; \
                 install the Debian packages: {}",
                list(&missing),
                packages_of(&missing).join(" ")
            );
        }
        Err(Skip { missing })
    }

    /// [`require`](Self::require) for every [`Tool`] and every [`Schema`].
    pub fn require_all(&self) -> Result<(), Skip> {
        self.require(&Tool::ALL, &Schema::ALL)
    }

    /// A builder for a full stack using this toolbox.
    pub fn stack(&self) -> StackBuilder {
        StackBuilder::new(self.clone())
    }

    /// An empty sandbox (a fresh temp dir) to start daemons in one by one.
    pub fn sandbox(&self) -> Result<Sandbox> {
        Sandbox::new(self)
    }
}

/// [`Toolbox::system`] checked with [`Toolbox::require_all`]: the toolbox when
/// everything is installed, a [`Skip`] when not, and a panic naming the missing
/// Debian packages when `CI=true`. See also [`require_or_skip!`](crate::require_or_skip).
pub fn require_real_ovn() -> Result<Toolbox, Skip> {
    let tb = Toolbox::system();
    tb.require_all().map(|()| tb)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn join_paths(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

fn dpkg_lookup(package: &str, file: &str) -> Option<PathBuf> {
    let out = Command::new("dpkg").arg("-L").arg(package).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let suffix = format!("/{file}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with(&suffix))
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_names_a_package() {
        for t in Tool::ALL {
            assert!(t.package().starts_with("o"), "{t}");
        }
    }

    #[test]
    fn empty_search_path_skips_outside_ci() {
        let tb = Toolbox::system()
            .with_search_path(Vec::<PathBuf>::new())
            .with_ci(false);
        let skip = tb
            .require(&[Tool::OvnNorthd, Tool::OvnNbctl], &[])
            .unwrap_err();
        assert_eq!(skip.packages(), ["ovn-central", "ovn-common"]);
        assert!(skip
            .to_string()
            .contains("ovn-northd (Debian package ovn-central)"));
    }

    #[test]
    fn missing_schema_dir_names_package() {
        let tb = Toolbox::system().with_schema_dirs(["/nonexistent-testkit"]);
        let err = tb.schema(Schema::Southbound).unwrap_err();
        assert!(err.to_string().contains("ovn-central"), "{err}");
    }
}
