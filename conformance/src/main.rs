//! husk-conformance: checks a runc-compatible runtime against the OCI runtime-spec.
fn main() {
    eprintln!("husk-conformance: not built yet (see issue 3)");
    std::process::exit(2);
}
