//! `include/ovnkit.h` is what cbindgen generates from the sources: fails on drift, and rewrites
//! the header when `OVNKIT_BLESS=1`.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = dir.join("include/ovnkit.h");
    if std::env::var_os("OVNKIT_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "bindings/c/include/ovnkit.h is out of date; regenerate it with \
         OVNKIT_BLESS=1 cargo test -p ovnkit-c --test header\n--- generated ---\n{generated}"
    );
}
