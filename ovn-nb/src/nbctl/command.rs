//! ovn-nbctl's command line: global options, then commands separated by `--`, each with its own
//! `--option`s, run in order against one [`Nbctl`] and committed as one transaction.

use super::acl::AclOpts;
use super::error::{NbctlError, Result};
use super::lb::LbOpts;
use super::router::{NatOpts, RouteOpts};
use super::switch::AddOpts;
use super::text::Symbols;
use super::txn::Nbctl;

/// `--wait=sb|hv`: what to wait for after committing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// Until ovn-northd has processed the change (`sb_cfg` catches up with `nb_cfg`).
    Sb,
    /// Until every chassis has processed it (`hv_cfg`).
    Hv,
}

/// One command: its options, name and arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// `--name[=value]` options given before the command name.
    pub options: Vec<(String, Option<String>)>,
    /// The command name (`ls-add`, `set`, ...).
    pub verb: String,
    /// The arguments.
    pub args: Vec<String>,
}

impl Command {
    fn has(&self, opt: &str) -> bool {
        self.options.iter().any(|(n, _)| n == opt)
    }

    fn value(&self, opt: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == opt)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// A parsed `ovn-nbctl` command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `--db=URL`.
    pub db: Option<String>,
    /// `--wait=sb|hv` (`--no-wait` leaves it `None`).
    pub wait: Option<Wait>,
    /// `--timeout=SECS`.
    pub timeout: Option<u64>,
    /// `--bare` or `--data=bare`: `list` and `find` print bare values (no column names, strings
    /// unquoted), as ovn-nbctl does.
    pub bare: bool,
    /// The commands, in order.
    pub commands: Vec<Command>,
}

/// (name, min args, max args, allowed options)
type Spec = (&'static str, usize, usize, &'static [&'static str]);

const SPECS: &[Spec] = &[
    ("init", 0, 0, &[]),
    ("show", 0, 1, &[]),
    ("sync", 0, 0, &[]),
    ("ls-add", 0, 1, &["--may-exist", "--add-duplicate"]),
    ("ls-del", 1, 1, &["--if-exists"]),
    ("ls-list", 0, 0, &[]),
    ("lsp-add", 2, 4, &["--may-exist"]),
    ("lsp-del", 1, 1, &["--if-exists"]),
    ("lsp-list", 1, 1, &[]),
    ("lsp-set-addresses", 1, usize::MAX, &[]),
    ("lsp-set-port-security", 0, usize::MAX, &[]),
    ("lsp-set-type", 2, 2, &[]),
    ("lsp-set-options", 1, usize::MAX, &[]),
    ("lsp-set-enabled", 2, 2, &[]),
    ("lr-add", 0, 1, &["--may-exist", "--add-duplicate"]),
    ("lr-del", 1, 1, &["--if-exists"]),
    ("lr-list", 0, 0, &[]),
    ("lrp-add", 4, usize::MAX, &["--may-exist"]),
    ("lrp-del", 1, 1, &["--if-exists"]),
    ("lrp-set-gateway-chassis", 2, 3, &[]),
    (
        "lr-route-add",
        3,
        4,
        &[
            "--may-exist",
            "--ecmp",
            "--ecmp-symmetric-reply",
            "--policy",
            "--route-table",
        ],
    ),
    (
        "lr-route-del",
        1,
        4,
        &["--if-exists", "--policy", "--route-table"],
    ),
    ("lr-policy-add", 4, usize::MAX, &["--may-exist"]),
    ("lr-policy-del", 1, 3, &["--if-exists"]),
    (
        "lr-nat-add",
        4,
        7,
        &["--may-exist", "--stateless", "--portrange"],
    ),
    ("lr-nat-del", 1, 3, &["--if-exists"]),
    ("lr-nat-list", 1, 1, &[]),
    ("lr-route-list", 1, 1, &[]),
    (
        "lb-add",
        3,
        4,
        &["--may-exist", "--add-duplicate", "--reject", "--event"],
    ),
    ("lb-del", 1, 2, &["--if-exists"]),
    ("ls-lb-add", 2, 2, &["--may-exist"]),
    ("ls-lb-del", 1, 2, &["--if-exists"]),
    ("lr-lb-add", 2, 2, &["--may-exist"]),
    ("lr-lb-del", 1, 2, &["--if-exists"]),
    (
        "acl-add",
        5,
        6,
        &[
            "--log",
            "--may-exist",
            "--type",
            "--name",
            "--severity",
            "--meter",
            "--label",
            "--apply-after-lb",
        ],
    ),
    ("acl-del", 1, 4, &["--type"]),
    ("acl-list", 1, 1, &["--type"]),
    ("pg-add", 1, usize::MAX, &[]),
    ("pg-set-ports", 2, usize::MAX, &[]),
    ("pg-del", 1, 1, &[]),
    ("dhcp-options-create", 1, usize::MAX, &[]),
    ("dhcp-options-del", 1, 1, &[]),
    ("dhcp-options-list", 0, 0, &[]),
    ("dhcp-options-set-options", 1, usize::MAX, &[]),
    ("dhcp-options-get-options", 1, 1, &[]),
    ("ha-chassis-group-add", 1, 1, &[]),
    ("ha-chassis-group-del", 1, 1, &[]),
    ("ha-chassis-group-add-chassis", 3, 3, &[]),
    ("ha-chassis-group-remove-chassis", 2, 2, &[]),
    ("list", 1, usize::MAX, &["--if-exists", "--columns"]),
    ("get", 2, usize::MAX, &["--if-exists", "--id"]),
    ("set", 3, usize::MAX, &["--if-exists"]),
    ("add", 4, usize::MAX, &["--if-exists"]),
    ("remove", 4, usize::MAX, &["--if-exists"]),
    ("clear", 3, usize::MAX, &["--if-exists"]),
    ("create", 2, usize::MAX, &["--id"]),
    ("destroy", 1, usize::MAX, &["--if-exists", "--all"]),
    ("find", 1, usize::MAX, &["--columns"]),
];

fn split_option(a: &str) -> (String, Option<String>) {
    match a.split_once('=') {
        Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
        None => (a.to_owned(), None),
    }
}

/// Global options that are not per-command and are accepted and ignored here (formatting and
/// connection tuning that does not change what is written).
const IGNORED_GLOBALS: &[&str] = &[
    "--leader-only",
    "--no-leader-only",
    "--no-shuffle-remotes",
    "--shuffle-remotes",
    "--no-syslog",
    "--no-heading",
    "--no-headings",
    "--oneline",
    "--dry-run",
    "--print-wait-time",
];

/// Parses `ovn-nbctl`'s argument list (without the program name).
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Invocation> {
    let mut inv = Invocation::default();
    let mut i = 0;
    let mut pending: Vec<(String, Option<String>)> = Vec::new();
    while i < args.len() {
        let a = args[i].as_ref();
        if !a.starts_with('-') || a == "--" {
            break;
        }
        let (name, value) = split_option(a);
        match name.as_str() {
            "--db" | "-t" | "--timeout" => {
                let v = match value {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).map(|s| s.as_ref().to_owned()).ok_or_else(|| {
                            NbctlError::Usage(format!("option '{name}' requires an argument"))
                        })?
                    }
                };
                if name == "--db" {
                    inv.db = Some(v);
                } else {
                    inv.timeout = Some(v.parse().map_err(|_| {
                        NbctlError::Usage(format!("value {v} on -t or --timeout is invalid"))
                    })?);
                }
            }
            "--wait" => {
                inv.wait = match value.as_deref() {
                    Some("sb") => Some(Wait::Sb),
                    Some("hv") => Some(Wait::Hv),
                    Some("none") => None,
                    _ => {
                        return Err(NbctlError::Usage(
                            "argument to --wait must be \"none\", \"sb\", or \"hv\"".into(),
                        ))
                    }
                }
            }
            "--no-wait" => inv.wait = None,
            "--bare" => inv.bare = true,
            "--data" | "-d" | "--format" | "-f" => {
                let v = match value {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .map(|s| s.as_ref().to_owned())
                            .unwrap_or_default()
                    }
                };
                match (name.as_str(), v.as_str()) {
                    ("--data" | "-d", "bare") => inv.bare = true,
                    ("--data" | "-d", "string") | ("--format" | "-f", "list") => {}
                    _ => {
                        return Err(NbctlError::Usage(format!(
                            "{name}={v}: only --format=list and --data=string|bare are supported"
                        )))
                    }
                }
            }
            n if IGNORED_GLOBALS.contains(&n) || n.starts_with("-v") => {}
            _ => pending.push((name, value)),
        }
        i += 1;
    }
    let rest: Vec<&str> = args[i..].iter().map(AsRef::as_ref).collect();
    for group in rest.split(|a| *a == "--") {
        let mut cmd = Command {
            options: std::mem::take(&mut pending),
            ..Command::default()
        };
        let mut j = 0;
        while j < group.len() && group[j].starts_with("--") {
            cmd.options.push(split_option(group[j]));
            j += 1;
        }
        let Some(verb) = group.get(j) else {
            if group.is_empty() && cmd.options.is_empty() {
                continue;
            }
            return Err(NbctlError::Usage(
                "missing command name (use --help for help)".into(),
            ));
        };
        cmd.verb = (*verb).to_owned();
        cmd.args = group[j + 1..].iter().map(|s| (*s).to_owned()).collect();
        check_command(&cmd)?;
        inv.commands.push(cmd);
    }
    if inv.commands.is_empty() {
        return Err(NbctlError::Usage(
            "missing command name (use --help for help)".into(),
        ));
    }
    Ok(inv)
}

/// Checks a command against its specification: known name, allowed options, argument count.
fn check_command(cmd: &Command) -> Result<()> {
    let Some((_, min, max, opts)) = SPECS.iter().find(|s| s.0 == cmd.verb) else {
        return Err(NbctlError::Usage(format!(
            "unknown command '{}'; use --help for help",
            cmd.verb
        )));
    };
    for (o, _) in &cmd.options {
        if !opts.contains(&o.as_str()) {
            return Err(NbctlError::Usage(format!(
                "'{}' command has no '{o}' option",
                cmd.verb
            )));
        }
    }
    if cmd.args.len() < *min {
        return Err(NbctlError::Usage(format!(
            "'{}' command requires at least {min} arguments",
            cmd.verb
        )));
    }
    if cmd.args.len() > *max {
        return Err(NbctlError::Usage(format!(
            "'{}' command takes at most {max} arguments",
            cmd.verb
        )));
    }
    Ok(())
}

impl Nbctl {
    /// Creates the `NB_Global` row when the database has none (every ovn-nbctl transaction
    /// does).
    pub fn ensure_nb_global(&mut self) -> Result<()> {
        let t = self.table_index("NB_Global")?;
        if self.uuids(t).is_empty() {
            self.insert(t, vec![]);
        }
        Ok(())
    }

    /// Runs parsed commands in order; their output accumulates in [`Nbctl::output`].
    pub fn run_commands(&mut self, commands: &[Command]) -> Result<()> {
        let mut symbols = Symbols::new();
        self.ensure_nb_global()?;
        for c in commands {
            self.run_command(c, &mut symbols)?;
        }
        Ok(())
    }

    fn run_command(&mut self, c: &Command, symbols: &mut Symbols) -> Result<()> {
        // Commands built by hand (not by `parse_args`) get the same checks, so that the
        // argument indexing below cannot go out of bounds.
        check_command(c)?;
        let a: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let arg = |i: usize| a.get(i).copied();
        let add_opts = AddOpts {
            may_exist: c.has("--may-exist"),
            add_duplicate: c.has("--add-duplicate"),
        };
        let if_exists = c.has("--if-exists");
        let may_exist = c.has("--may-exist");
        match c.verb.as_str() {
            "init" | "sync" => {}
            "show" => {
                let text = self.show(arg(0))?;
                self.print(&text);
            }
            "ls-add" => {
                self.ls_add(arg(0), add_opts)?;
            }
            "ls-del" => self.ls_del(a[0], if_exists)?,
            "ls-list" => {
                let t = self.ls_list()?;
                self.print(&t);
            }
            "lsp-add" => {
                let pt = match a.len() {
                    2 => None,
                    4 => Some((a[2], a[3])),
                    _ => {
                        return Err(NbctlError::Usage(
                            "lsp-add with parent must also specify a tag".into(),
                        ))
                    }
                };
                self.lsp_add(a[0], a[1], pt, may_exist)?;
            }
            "lsp-del" => self.lsp_del(a[0], if_exists)?,
            "lsp-list" => {
                let t = self.lsp_list(a[0])?;
                self.print(&t);
            }
            "lsp-set-addresses" => self.lsp_set_addresses(a[0], &a[1..])?,
            "lsp-set-port-security" => {
                let Some((p, rest)) = a.split_first() else {
                    return Err(NbctlError::Usage(
                        "'lsp-set-port-security' command requires at least 1 arguments".into(),
                    ));
                };
                self.lsp_set_port_security(p, rest)?;
            }
            "lsp-set-type" => self.lsp_set_type(a[0], a[1])?,
            "lsp-set-options" => self.lsp_set_options(a[0], &a[1..])?,
            "lsp-set-enabled" => self.lsp_set_enabled(a[0], a[1])?,
            "lr-add" => {
                self.lr_add(arg(0), add_opts)?;
            }
            "lr-del" => self.lr_del(a[0], if_exists)?,
            "lr-list" => {
                let t = self.lr_list()?;
                self.print(&t);
            }
            "lrp-add" => {
                let rest = &a[3..];
                let n = rest
                    .iter()
                    .position(|x| x.contains('='))
                    .unwrap_or(rest.len());
                if n == 0 {
                    return Err(NbctlError::Usage(
                        "'lrp-add' command requires at least 4 arguments".into(),
                    ));
                }
                self.lrp_add(a[0], a[1], a[2], &rest[..n], &rest[n..], may_exist)?;
            }
            "lrp-del" => self.lrp_del(a[0], if_exists)?,
            "lrp-set-gateway-chassis" => self.lrp_set_gateway_chassis(a[0], a[1], arg(2))?,
            "lr-route-add" => {
                let opts = route_opts(c);
                self.lr_route_add(a[0], a[1], a[2], arg(3), &opts)?;
            }
            "lr-route-del" => {
                let opts = route_opts(c);
                self.lr_route_del(a[0], arg(1), arg(2), arg(3), &opts, if_exists)?;
            }
            "lr-policy-add" => self.lr_policy_add(a[0], a[1], a[2], a[3], &a[4..], may_exist)?,
            "lr-policy-del" => self.lr_policy_del(a[0], arg(1), arg(2), if_exists)?,
            "lr-nat-add" => {
                let opts = NatOpts {
                    may_exist,
                    stateless: c.has("--stateless"),
                    portrange: c.has("--portrange"),
                };
                self.lr_nat_add(a[0], a[1], a[2], a[3], &a[4..], opts)?;
            }
            "lr-nat-del" => self.lr_nat_del(a[0], arg(1), arg(2))?,
            "lr-nat-list" => {
                let t = self.lr_nat_list(a[0])?;
                self.print(&t);
            }
            "lr-route-list" => {
                let t = self.lr_route_list(a[0])?;
                self.print(&t);
            }
            "lb-add" => {
                let opts = LbOpts {
                    may_exist,
                    add_duplicate: c.has("--add-duplicate"),
                    reject: c.has("--reject"),
                    event: c.has("--event"),
                };
                self.lb_add(a[0], a[1], a[2], arg(3), opts)?;
            }
            "lb-del" => self.lb_del(a[0], arg(1), if_exists)?,
            "ls-lb-add" => self.ls_lb_add(a[0], a[1], may_exist)?,
            "ls-lb-del" => self.ls_lb_del(a[0], arg(1), if_exists)?,
            "lr-lb-add" => self.lr_lb_add(a[0], a[1], may_exist)?,
            "lr-lb-del" => self.lr_lb_del(a[0], arg(1), if_exists)?,
            "acl-add" => {
                let opts = AclOpts {
                    type_: c.value("--type").map(str::to_owned),
                    log: c.has("--log"),
                    severity: c.value("--severity").map(str::to_owned),
                    name: c.value("--name").map(str::to_owned),
                    meter: c.value("--meter").map(str::to_owned),
                    label: c.value("--label").map(str::to_owned),
                    may_exist,
                    apply_after_lb: c.has("--apply-after-lb"),
                };
                self.acl_add(a[0], a[1], a[2], a[3], a[4], &opts)?;
            }
            "acl-del" => self.acl_del(a[0], arg(1), arg(2), arg(3), c.value("--type"))?,
            "acl-list" => {
                let t = self.acl_list(a[0], c.value("--type"))?;
                self.print(&t);
            }
            "pg-add" => {
                self.pg_add(a[0], &a[1..])?;
            }
            "pg-set-ports" => self.pg_set_ports(a[0], &a[1..])?,
            "pg-del" => self.pg_del(a[0])?,
            "dhcp-options-create" => {
                self.dhcp_options_create(a[0], &a[1..])?;
            }
            "dhcp-options-del" => self.dhcp_options_del(a[0])?,
            "dhcp-options-list" => {
                let t = self.dhcp_options_list()?;
                self.print(&t);
            }
            "dhcp-options-set-options" => self.dhcp_options_set_options(a[0], &a[1..])?,
            "dhcp-options-get-options" => {
                let t = self.dhcp_options_get_options(a[0])?;
                self.print(&t);
            }
            "ha-chassis-group-add" => {
                self.ha_chassis_group_add(a[0])?;
            }
            "ha-chassis-group-del" => self.ha_chassis_group_del(a[0])?,
            "ha-chassis-group-add-chassis" => {
                self.ha_chassis_group_add_chassis(a[0], a[1], a[2])?
            }
            "ha-chassis-group-remove-chassis" => {
                self.ha_chassis_group_remove_chassis(a[0], a[1])?
            }
            "list" => {
                let cols = columns_opt(c);
                let cols_ref: Option<Vec<&str>> = cols
                    .as_ref()
                    .map(|v| v.iter().map(String::as_str).collect());
                let t = self.db_list(a[0], &a[1..], cols_ref.as_deref(), self.bare_output())?;
                self.print(&t);
            }
            "find" => {
                let cols = columns_opt(c);
                let cols_ref: Option<Vec<&str>> = cols
                    .as_ref()
                    .map(|v| v.iter().map(String::as_str).collect());
                let t = self.db_find(a[0], &a[1..], cols_ref.as_deref(), self.bare_output())?;
                self.print(&t);
            }
            "get" => {
                let t = self.db_get(a[0], a[1], &a[2..], if_exists)?;
                self.print(&t);
            }
            "set" => {
                if if_exists
                    && self
                        .resolve_record(self.resolve_table(a[0])?, a[1], false)?
                        .is_none()
                {
                    return Ok(());
                }
                self.db_set(a[0], a[1], &a[2..], symbols)?;
            }
            "add" => {
                if if_exists
                    && self
                        .resolve_record(self.resolve_table(a[0])?, a[1], false)?
                        .is_none()
                {
                    return Ok(());
                }
                self.db_add(a[0], a[1], a[2], &a[3..], symbols)?;
            }
            "remove" => {
                if if_exists
                    && self
                        .resolve_record(self.resolve_table(a[0])?, a[1], false)?
                        .is_none()
                {
                    return Ok(());
                }
                self.db_remove(a[0], a[1], a[2], &a[3..], symbols)?;
            }
            "clear" => {
                if if_exists
                    && self
                        .resolve_record(self.resolve_table(a[0])?, a[1], false)?
                        .is_none()
                {
                    return Ok(());
                }
                self.db_clear(a[0], a[1], &a[2..])?;
            }
            "create" => {
                let u = self.db_create(a[0], &a[1..], symbols)?;
                match c.value("--id") {
                    Some(id) => {
                        if !id.starts_with('@') || id.len() < 2 {
                            return Err(NbctlError::invalid(format!(
                                "{id}: row id must begin with \"@\""
                            )));
                        }
                        symbols.insert(id.to_owned(), u);
                    }
                    None => self.print(&format!("{u}\n")),
                }
            }
            "destroy" => self.db_destroy(a[0], &a[1..], if_exists, c.has("--all"))?,
            other => {
                return Err(NbctlError::Usage(format!(
                    "unknown command '{other}'; use --help for help"
                )))
            }
        }
        Ok(())
    }
}

fn route_opts(c: &Command) -> RouteOpts {
    RouteOpts {
        may_exist: c.has("--may-exist"),
        ecmp: c.has("--ecmp"),
        ecmp_symmetric_reply: c.has("--ecmp-symmetric-reply"),
        policy: c.value("--policy").map(str::to_owned),
        route_table: c.value("--route-table").map(str::to_owned),
    }
}

fn columns_opt(c: &Command) -> Option<Vec<String>> {
    c.value("--columns")
        .map(|v| v.split(',').map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nbctl::{execute, Nbctl, TxnTarget};

    #[test]
    fn parses_global_and_command_options() {
        let inv = parse_args(&[
            "--db=unix:/x",
            "--may-exist",
            "ls-add",
            "a",
            "--",
            "--if-exists",
            "ls-del",
            "b",
        ])
        .unwrap();
        assert_eq!(inv.db.as_deref(), Some("unix:/x"));
        assert_eq!(inv.commands.len(), 2);
        assert!(inv.commands[0].has("--may-exist"));
        assert!(inv.commands[1].has("--if-exists"));
        let e = parse_args(&["ls-add", "a", "b"]).unwrap_err();
        assert_eq!(e.to_string(), "'ls-add' command takes at most 1 arguments");
        let e = parse_args(&["--bogus", "ls-add"]).unwrap_err();
        assert_eq!(e.to_string(), "'ls-add' command has no '--bogus' option");
    }

    #[test]
    fn one_transaction_with_named_uuids_and_nothing_written_on_error() {
        let mut db = ovsdb::Database::new(crate::model::schema().clone());
        let inv = parse_args(&["ls-add", "sw0", "--", "lsp-add", "sw0", "p1"]).unwrap();
        let mut nb = Nbctl::on(&db).unwrap();
        nb.run_commands(&inv.commands).unwrap();
        let ops = nb.ops();
        // NB_Global, the switch and the port, all inserts referring by named-uuid.
        assert_eq!(ops.len(), 3);
        let text = serde_json::Value::Array(ops).to_string();
        assert!(text.contains("named-uuid"), "{text}");
        nb.commit(&mut db).unwrap();
        assert_eq!(db.rows("Logical_Switch_Port").map(|r| r.len()), Some(1));

        let before = db.n_rows();
        let inv = parse_args(&["ls-add", "sw1", "--", "lsp-set-type", "p1", "bogus"]).unwrap();
        assert!(execute(&mut db, &inv).is_err());
        assert_eq!(db.n_rows(), before);
        assert!(db.snapshot().is_ok());
    }
}
