//! `linux.resources.hugepageLimits`: v1 `hugetlb.<size>.limit_in_bytes`, v2
//! `hugetlb.<size>.max`, plus the reservation counter (`.rsvd.`) where the kernel has it, as
//! runc does: limiting reservations too keeps a process from reserving pages at mmap time that
//! would only fault (SIGBUS) later.

use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use super::{fs, CgroupError};

/// Check page sizes (`2MB`, `1GB`, `64KB`) and limits.
pub(crate) fn validate(limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for (i, l) in limits.iter().enumerate() {
        let f = |sub: &str| format!("linux.resources.hugepageLimits[{i}].{sub}");
        let size = l.page_size();
        let ok = size
            .strip_suffix("KB")
            .or_else(|| size.strip_suffix("MB"))
            .or_else(|| size.strip_suffix("GB"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(CgroupError::Invalid {
                field: f("pageSize"),
                msg: format!("{size:?} is not a page size like \"2MB\" or \"1GB\""),
            });
        }
        if l.limit() < 0 {
            return Err(CgroupError::Invalid {
                field: f("limit"),
                msg: format!("{} is negative", l.limit()),
            });
        }
    }
    Ok(())
}

/// Write the limits into `dir`; `v2` picks the file names.
pub(crate) fn set(dir: &Path, limits: &[LinuxHugepageLimit], v2: bool) -> Result<(), CgroupError> {
    let (limit_suffix, rsvd_suffix) = if v2 {
        ("max", "rsvd.max")
    } else {
        ("limit_in_bytes", "rsvd.limit_in_bytes")
    };
    for (i, l) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = l.page_size();
        let file = format!("hugetlb.{size}.{limit_suffix}");
        if !dir.join(&file).exists() {
            return Err(CgroupError::Invalid {
                field,
                msg: format!("this kernel has no {size} huge pages ({} missing)", file),
            });
        }
        let v = l.limit().to_string();
        fs::write(Some(&field), dir, &file, &v)?;
        let rsvd = format!("hugetlb.{size}.{rsvd_suffix}");
        if dir.join(&rsvd).exists() {
            fs::write(Some(&field), dir, &rsvd, &v)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{read, TempDir};
    use super::*;

    fn lim(json: &str) -> Vec<LinuxHugepageLimit> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn validation() {
        validate(&lim(
            r#"[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":0}]"#,
        ))
        .unwrap();
        let e = validate(&lim(r#"[{"pageSize":"2M","limit":1}]"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.hugepageLimits[0].pageSize: "),
            "{e}"
        );
        let e = validate(&lim(r#"[{"pageSize":"2MB","limit":-1}]"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.hugepageLimits[0].limit: "),
            "{e}"
        );
    }

    #[test]
    fn v1_and_v2_files_with_and_without_rsvd() {
        let t = TempDir::new("huge");
        let v1 = t.touch(
            "v1",
            &[
                "hugetlb.2MB.limit_in_bytes",
                "hugetlb.2MB.rsvd.limit_in_bytes",
            ],
        );
        set(&v1, &lim(r#"[{"pageSize":"2MB","limit":4194304}]"#), false).unwrap();
        assert_eq!(read(&v1, "hugetlb.2MB.limit_in_bytes"), "4194304");
        assert_eq!(read(&v1, "hugetlb.2MB.rsvd.limit_in_bytes"), "4194304");
        let v2 = t.touch("v2", &["hugetlb.2MB.max"]);
        set(&v2, &lim(r#"[{"pageSize":"2MB","limit":2097152}]"#), true).unwrap();
        assert_eq!(read(&v2, "hugetlb.2MB.max"), "2097152");
        let e = set(&v2, &lim(r#"[{"pageSize":"1GB","limit":0}]"#), true)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.hugepageLimits[0]: this kernel has no 1GB"),
            "{e}"
        );
    }
}
