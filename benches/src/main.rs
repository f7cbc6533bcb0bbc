//! husk-bench: husk against runc and crun (see issue 7).
fn main() {
    eprintln!("husk-bench: not built yet (see issue 7)");
    std::process::exit(2);
}
