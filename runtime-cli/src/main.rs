//! husk: a runc-compatible OCI runtime command line.
fn main() {
    eprintln!("husk: not built yet");
    std::process::exit(2);
}
