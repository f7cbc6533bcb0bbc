//! `linux.resources.blockIO`: v1 `blkio.*` files, v2 `io.*` with runc's conversions.
//!
//! v1 (runc's BlkioGroup): `blkio.weight`/`blkio.weight_device` when the kernel has them
//! (CFQ), else the BFQ files `blkio.bfq.weight`/`blkio.bfq.weight_device`; throttles go to
//! `blkio.throttle.{read,write}_{bps,iops}_device` as `MAJ:MIN RATE`.
//! v2 (runc's fs2 setIo): the weight goes to `io.bfq.weight` when BFQ is there, else to
//! `io.weight` converted from [10, 1000] to [1, 10000]; per-device weights need BFQ; throttles
//! become `io.max` lines `MAJ:MIN rbps=RATE` (`wbps`, `riops`, `wiops`).

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::{fs, CgroupError};

const F: &str = "linux.resources.blockIO";

fn invalid(field: String, msg: String) -> CgroupError {
    CgroupError::Invalid { field, msg }
}

/// The kernel's blkio weight range.
const WEIGHT: std::ops::RangeInclusive<u16> = 10..=1000;

/// Check weights and device numbers.
pub(crate) fn validate(b: &LinuxBlockIo) -> Result<(), CgroupError> {
    for (f, w) in [("weight", b.weight()), ("leafWeight", b.leaf_weight())] {
        if let Some(w) = w.filter(|&w| w != 0) {
            if !WEIGHT.contains(&w) {
                return Err(invalid(
                    format!("{F}.{f}"),
                    format!("{w} is out of range (10 to 1000)"),
                ));
            }
        }
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let f = format!("{F}.weightDevice[{i}]");
        if d.major() < 0 || d.minor() < 0 {
            return Err(invalid(f, "major and minor must not be negative".into()));
        }
        for (sub, w) in [("weight", d.weight()), ("leafWeight", d.leaf_weight())] {
            if let Some(w) = w.filter(|&w| w != 0) {
                if !WEIGHT.contains(&w) {
                    return Err(invalid(
                        format!("{f}.{sub}"),
                        format!("{w} is out of range (10 to 1000)"),
                    ));
                }
            }
        }
    }
    for (name, list) in throttles(b) {
        for (i, d) in list.iter().enumerate() {
            if d.major() < 0 || d.minor() < 0 {
                return Err(invalid(
                    format!("{F}.{name}[{i}]"),
                    "major and minor must not be negative".into(),
                ));
            }
        }
    }
    Ok(())
}

/// The four throttle lists with their spec names.
fn throttles(b: &LinuxBlockIo) -> [(&'static str, &[LinuxThrottleDevice]); 4] {
    fn l(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or_default()
    }
    [
        ("throttleReadBpsDevice", l(b.throttle_read_bps_device())),
        ("throttleWriteBpsDevice", l(b.throttle_write_bps_device())),
        ("throttleReadIOPSDevice", l(b.throttle_read_iops_device())),
        ("throttleWriteIOPSDevice", l(b.throttle_write_iops_device())),
    ]
}

/// True when `b` asks for anything.
pub(crate) fn is_set(b: &LinuxBlockIo) -> bool {
    b.weight().is_some_and(|w| w != 0)
        || b.leaf_weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || throttles(b).iter().any(|(_, l)| !l.is_empty())
}

/// v1: write `b` into the blkio directory `dir`.
pub(crate) fn set_v1(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let (weight, weight_device) = if dir.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        fs::write(Some(&format!("{F}.weight")), dir, weight, &w.to_string())?;
    }
    // Looked at only when a leaf weight is asked for.
    let has_leaf = || dir.join("blkio.leaf_weight").exists();
    let no_leaf = |field: String| {
        invalid(
            field,
            "this kernel has no blkio.leaf_weight (leaf weights went with the CFQ scheduler in \
             Linux 5.0); runc fails here too"
                .into(),
        )
    };
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        if !has_leaf() {
            return Err(no_leaf(format!("{F}.leafWeight")));
        }
        fs::write(
            Some(&format!("{F}.leafWeight")),
            dir,
            "blkio.leaf_weight",
            &w.to_string(),
        )?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight().filter(|&w| w != 0) {
            fs::write(
                Some(&format!("{F}.weightDevice[{i}].weight")),
                dir,
                weight_device,
                &format!("{dev} {w}"),
            )?;
        }
        if let Some(w) = d.leaf_weight().filter(|&w| w != 0) {
            if !has_leaf() {
                return Err(no_leaf(format!("{F}.weightDevice[{i}].leafWeight")));
            }
            fs::write(
                Some(&format!("{F}.weightDevice[{i}].leafWeight")),
                dir,
                "blkio.leaf_weight_device",
                &format!("{dev} {w}"),
            )?;
        }
    }
    let files = [
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
    ];
    for ((name, list), file) in throttles(b).into_iter().zip(files) {
        for (i, d) in list.iter().enumerate() {
            fs::write(
                Some(&format!("{F}.{name}[{i}]")),
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

/// runc's conversion of a blkio weight [10, 1000] to an io.weight [1, 10000].
pub(crate) fn weight_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        0
    } else {
        1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
    }
}

/// v2: write `b` into the cgroup directory `dir`. `leafWeight` has no v2 file and is refused
/// by the v2 driver's checks before this runs.
pub(crate) fn set_v2(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        let f = Some(format!("{F}.weight"));
        if bfq {
            fs::write(f.as_deref(), dir, "io.bfq.weight", &w.to_string())?;
        } else {
            fs::write(
                f.as_deref(),
                dir,
                "io.weight",
                &weight_to_io_weight(w).to_string(),
            )?;
        }
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{F}.weightDevice[{i}].weight");
        let Some(w) = d.weight().filter(|&w| w != 0) else {
            continue;
        };
        if !bfq {
            return Err(invalid(
                field,
                "per-device weights need the BFQ I/O scheduler (no io.bfq.weight in this \
                 cgroup)"
                    .into(),
            ));
        }
        fs::write(
            Some(&field),
            dir,
            "io.bfq.weight",
            &format!("{}:{} {w}", d.major(), d.minor()),
        )?;
    }
    for ((name, list), key) in throttles(b)
        .into_iter()
        .zip(["rbps", "wbps", "riops", "wiops"])
    {
        for (i, d) in list.iter().enumerate() {
            fs::write(
                Some(&format!("{F}.{name}[{i}]")),
                dir,
                "io.max",
                &format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{read, TempDir};
    use super::*;

    fn bio(json: &str) -> LinuxBlockIo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn validation_names_fields() {
        validate(&bio(
            r#"{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":100}]}"#,
        ))
        .unwrap();
        for (j, f) in [
            (r#"{"weight":5}"#, "blockIO.weight"),
            (r#"{"leafWeight":2000}"#, "blockIO.leafWeight"),
            (
                r#"{"weightDevice":[{"major":8,"minor":0,"weight":1}]}"#,
                "blockIO.weightDevice[0].weight",
            ),
            (
                r#"{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}"#,
                "blockIO.throttleReadBpsDevice[0]",
            ),
        ] {
            let e = validate(&bio(j)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("linux.resources.{f}: ")), "{e}");
        }
    }

    #[test]
    fn v1_files_cfq_and_bfq() {
        let t = TempDir::new("blk");
        let b = bio(
            r#"{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":200}],
                "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
                "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]}"#,
        );
        let bfq = t.touch(
            "bfq",
            &[
                "blkio.bfq.weight",
                "blkio.bfq.weight_device",
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
            ],
        );
        set_v1(&bfq, &b).unwrap();
        assert_eq!(read(&bfq, "blkio.bfq.weight"), "300");
        assert_eq!(read(&bfq, "blkio.bfq.weight_device"), "8:0 200");
        assert_eq!(read(&bfq, "blkio.throttle.read_bps_device"), "8:0 1048576");
        assert_eq!(read(&bfq, "blkio.throttle.write_iops_device"), "8:16 100");
        let cfq = t.touch("cfq", &["blkio.weight", "blkio.weight_device"]);
        set_v1(&cfq, &bio(r#"{"weight":300}"#)).unwrap();
        assert_eq!(read(&cfq, "blkio.weight"), "300");
    }

    #[test]
    fn v2_conversions() {
        assert_eq!(weight_to_io_weight(10), 1);
        assert_eq!(weight_to_io_weight(500), 4950);
        assert_eq!(weight_to_io_weight(1000), 10000);
        let t = TempDir::new("blk");
        let d = t.touch("c", &["io.weight", "io.max"]);
        set_v2(
            &d,
            &bio(r#"{"weight":500,"throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":4096}]}"#),
        )
        .unwrap();
        assert_eq!(read(&d, "io.weight"), "4950");
        assert_eq!(read(&d, "io.max"), "8:0 wbps=4096");
        let e = set_v2(
            &d,
            &bio(r#"{"weightDevice":[{"major":8,"minor":0,"weight":100}]}"#),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("BFQ"), "{e}");
        let b = t.touch("bfq", &["io.bfq.weight"]);
        set_v2(&b, &bio(r#"{"weight":500}"#)).unwrap();
        assert_eq!(read(&b, "io.bfq.weight"), "500");
    }
}
