//! `husk features`: the runtime-spec `features` JSON (containerd reads it, compat.md).

use crate::CmdResult;

/// `features` takes no flags.
#[derive(Debug, clap::Args)]
pub struct FeaturesArgs {}

/// Print the features, indented as runc prints them.
pub fn run(_a: &FeaturesArgs) -> CmdResult {
    let mut v = serde_json::to_value(husk::features()).map_err(|e| format!("features: {e}"))?;
    drop_nulls(&mut v);
    let text = serde_json::to_string_pretty(&v).map_err(|e| format!("features: {e}"))?;
    println!("{text}");
    Ok(0)
}

/// oci-spec writes an unset optional field as `null`, which the spec's schema refuses
/// (`annotations` must be an object): an unset field is left out, as runc does.
fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
