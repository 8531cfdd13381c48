//! `ovnkit expr PASS 'EXPR'`: runs a logical-flow match expression through flowcompile's passes and
//! prints the result of the last one.

use clap::{Args, ValueEnum};
use flowcompile::debug::{self, DebugEnv, Pass};

/// Arguments of `ovnkit expr`.
#[derive(Debug, Args)]
pub(crate) struct ExprArgs {
    /// How far to run the pipeline.
    #[arg(value_enum)]
    pass: PassArg,
    /// The match expression, in OVN's syntax (ovn-sb(5)).
    expr: String,
    /// An address set: NAME=ADDR1,ADDR2,... (used as `$NAME`); repeatable.
    #[arg(long = "address-set", value_name = "NAME=ADDRS")]
    address_sets: Vec<String>,
    /// A port group: NAME=PORT1,PORT2,... (used as `@NAME`); repeatable.
    #[arg(long = "port-group", value_name = "NAME=PORTS")]
    port_groups: Vec<String>,
    /// A logical port's tunnel key: NAME=KEY; repeatable.
    #[arg(long = "port", value_name = "NAME=KEY")]
    ports: Vec<String>,
    /// A port resident on this chassis (for is_chassis_resident); repeatable.
    #[arg(long = "resident", value_name = "PORT")]
    resident: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PassArg {
    Lex,
    Parse,
    Annotate,
    Condition,
    Simplify,
    Normalize,
    Flows,
}

/// Runs the pipeline and prints the result.
pub(crate) fn run(args: &ExprArgs) -> Result<(), String> {
    let pass = match args.pass {
        PassArg::Lex => Pass::Lex,
        PassArg::Parse => Pass::Parse,
        PassArg::Annotate => Pass::Annotate,
        PassArg::Condition => Pass::Condition,
        PassArg::Simplify => Pass::Simplify,
        PassArg::Normalize => Pass::Normalize,
        PassArg::Flows => Pass::Flows,
    };
    let mut env = DebugEnv::default();
    for s in &args.address_sets {
        let (name, values) = split_list("--address-set", s)?;
        env.sets
            .add_address_set(name, &values)
            .map_err(|e| format!("--address-set {s}: {e}"))?;
    }
    for s in &args.port_groups {
        let (name, ports) = split_list("--port-group", s)?;
        env.sets.add_port_group(name, &ports);
    }
    for p in &args.ports {
        let (name, key) = p
            .split_once('=')
            .ok_or_else(|| format!("--port {p}: expected NAME=KEY"))?;
        let key: u32 = key
            .parse()
            .map_err(|_| format!("--port {p}: {key} is not a tunnel key"))?;
        env.ports.insert(name.to_owned(), key);
    }
    env.resident.extend(args.resident.iter().cloned());
    let out = debug::run_with(pass, &args.expr, &env).map_err(|e| e.render(&args.expr))?;
    println!("{}", out.trim_end());
    Ok(())
}

fn split_list<'a>(flag: &str, arg: &'a str) -> Result<(&'a str, Vec<&'a str>), String> {
    let (name, values) = arg
        .split_once('=')
        .ok_or_else(|| format!("{flag} {arg}: expected NAME=V1,V2,..."))?;
    Ok((name, values.split(',').filter(|v| !v.is_empty()).collect()))
}
