//! Build and OS information for `Hello`, filled as the SDK's `hello.go` fills it: every field
//! non-empty (v0.7.27 of the protocol required that, and the SDK still fills defaults "or the
//! connector will fail to register").

use super::pb::{BuildInfo, OsInfo};

/// What this binary is.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        lang_version: concat!("rust ", env!("CARGO_PKG_RUST_VERSION"), "+").to_string(),
        package: env!("CARGO_PKG_NAME").to_string(),
        package_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// The machine's hostname (empty when it cannot be read).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Where this binary runs, with hello.go's defaults for anything unknown.
pub fn os_info() -> OsInfo {
    let release = os_release();
    let field = |key: &str| {
        release
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (kernel_version, kernel_arch) = uname();
    let os = std::env::consts::OS.to_string();
    let mut platform = field("ID");
    if platform.is_empty() {
        platform = os.clone();
    }
    let mut family = field("ID_LIKE")
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    if family.is_empty() {
        family = platform.clone();
    }
    let kernel_version = if kernel_version.is_empty() {
        "unknown".to_string()
    } else {
        kernel_version
    };
    let mut platform_version = field("VERSION_ID");
    if platform_version.is_empty() {
        platform_version = kernel_version.clone();
    }
    let kernel_arch = if kernel_arch.is_empty() {
        std::env::consts::ARCH.to_string()
    } else {
        kernel_arch
    };
    let mut hostname = hostname();
    if hostname.is_empty() {
        hostname = "unknown".into();
    }
    OsInfo {
        hostname: cap(hostname),
        os: cap(os),
        platform: cap(platform),
        platform_version: cap(platform_version),
        platform_family: cap(family),
        kernel_version: cap(kernel_version),
        kernel_arch: cap(kernel_arch),
        virtualization_system: virtualization().to_string(),
    }
}

/// The proto allows 256 characters per field.
fn cap(s: String) -> String {
    s.chars().take(256).collect()
}

fn os_release() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// Kernel release and machine from `uname(2)`.
fn uname() -> (String, String) {
    // SAFETY: `uname` fills the zeroed struct it is given; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return (String::new(), String::new());
        }
        let text = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        (text(&u.release), text(&u.machine))
    }
}

/// A container runtime's marker file, else `none` (hello.go's default).
fn virtualization() -> &'static str {
    if std::path::Path::new("/.dockerenv").exists() {
        "docker"
    } else if std::path::Path::new("/run/.containerenv").exists() {
        "podman"
    } else if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        "kubernetes"
    } else {
        "none"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_filled() {
        let b = build_info();
        assert!(
            !b.lang_version.is_empty() && !b.package.is_empty() && !b.package_version.is_empty()
        );
        let o = os_info();
        for (name, v) in [
            ("hostname", &o.hostname),
            ("os", &o.os),
            ("platform", &o.platform),
            ("platform_version", &o.platform_version),
            ("platform_family", &o.platform_family),
            ("kernel_version", &o.kernel_version),
            ("kernel_arch", &o.kernel_arch),
            ("virtualization_system", &o.virtualization_system),
        ] {
            assert!(!v.is_empty(), "{name} is empty");
        }
    }
}
