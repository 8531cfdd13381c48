//! Two stacks at once, in two threads, with the same logical names, do not
//! see each other.

use testkit::Result;

fn switch_with_two_ports(
    ovn: &testkit::Toolbox,
    chassis: &str,
    subnet: u8,
) -> Result<(Vec<u32>, std::path::PathBuf)> {
    let stack = ovn.stack().chassis(chassis).build()?;
    let ip1 = format!("10.{subnet}.0.1");
    let ip2 = format!("10.{subnet}.0.2");
    let a1 = format!("50:54:00:00:{subnet:02x}:01 {ip1}");
    let a2 = format!("50:54:00:00:{subnet:02x}:02 {ip2}");
    stack.nbctl([
        "ls-add",
        "sw0",
        "--",
        "lsp-add",
        "sw0",
        "lsp1",
        "--",
        "lsp-set-addresses",
        "lsp1",
        &a1,
    ])?;
    stack.nbctl([
        "lsp-add",
        "sw0",
        "lsp2",
        "--",
        "lsp-set-addresses",
        "lsp2",
        &a2,
    ])?;
    let p1 = stack.bind_port("p1", "lsp1")?;
    let p2 = stack.bind_port("p2", "lsp2")?;
    stack.wait_hv()?;

    // Only our own chassis is registered in our SB.
    let names = stack.sbctl(["--bare", "--columns=name", "list", "Chassis"])?;
    assert_eq!(names.trim(), chassis);
    let trace = stack.ofproto_trace(&format!(
        "in_port={},dl_src=50:54:00:00:{subnet:02x}:01,dl_dst=50:54:00:00:{subnet:02x}:02,ip,nw_src={ip1},nw_dst={ip2},nw_ttl=64",
        p1.ofport
    ))?;
    assert_eq!(trace.output_ports(), [p2.dp_port], "{}", trace.text());
    // Only our own switch is in our NB.
    assert_eq!(
        stack
            .nbctl(["--bare", "--columns=name", "list", "Logical_Switch"])?
            .trim(),
        "sw0"
    );
    Ok((stack.pids(), stack.dir().to_path_buf()))
}

#[test]
fn two_stacks_in_parallel_threads_are_independent() {
    let ovn = testkit::require_or_skip!();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| switch_with_two_ports(&ovn, "cha", 1));
        let b = s.spawn(|| switch_with_two_ports(&ovn, "chb", 2));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (pids_a, dir_a) = a.unwrap();
    let (pids_b, dir_b) = b.unwrap();
    assert_ne!(dir_a, dir_b);
    assert!(pids_a.iter().all(|p| !pids_b.contains(p)));
    for pid in pids_a.iter().chain(&pids_b) {
        assert!(!testkit::process_alive(*pid));
    }
    assert!(!dir_a.exists() && !dir_b.exists());
}
