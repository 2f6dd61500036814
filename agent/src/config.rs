//! Agent configuration: a TOML file plus `BRAMA_AGENT_*` environment overrides.

use std::path::PathBuf;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The agent's default HTTP port. Chosen to stay clear of other signing agents
/// (NCALayer 13579, IIT's agent 8081/8083, CryptoPro's 4999) and common dev servers.
pub const DEFAULT_PORT: u16 = 47560;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP port on 127.0.0.1 and ::1. `0` picks a free one (tests).
    pub port: u16,
    /// HTTPS port on 127.0.0.1 and ::1 (certificate from the per-install CA); `0` picks a
    /// free one.
    pub https_port: u16,
    /// Serve HTTPS besides HTTP.
    pub https: bool,
    /// Where the agent keeps imported containers and its approvals.
    pub data_dir: PathBuf,
    /// Extra folders searched for containers, besides `data_dir/containers` and removable
    /// media (`/media/$USER/*`, `/run/media/$USER/*`).
    pub containers: Vec<PathBuf>,
    /// Search removable media mounts.
    pub removable_media: bool,
    /// Accept `http://localhost:*` and `http://127.0.0.1:*` page origins (development only).
    pub dev_mode: bool,
    /// Seconds a pending request lives.
    pub request_ttl: u64,
    /// Seconds `remember` skips the password for one origin and container.
    pub remember: u64,
    /// Seconds new requests from an origin are refused after the user denied one.
    pub deny_cooldown: u64,
    /// Largest document `/v1/sign` accepts, in bytes.
    pub max_document: usize,
    /// Wrong passwords before the container locks.
    pub lockout_after: u32,
    /// Seconds a locked container stays locked.
    pub lockout: u64,
    /// Milliseconds before the approval page's buttons are enabled (click-jacking guard).
    pub approval_delay_ms: u64,
    /// Log filter (`info`, `debug`, `agent=trace`, …). Request lines carry no secrets at any level.
    pub log: String,
    /// PKCS#11 modules (shared libraries) of hardware tokens to load, besides the well-known
    /// ones probed when `pkcs11_probe` is on.
    pub pkcs11_modules: Vec<PathBuf>,
    /// Also load the well-known token modules that are installed (`tokens::WELL_KNOWN_MODULES`).
    pub pkcs11_probe: bool,
    /// The program run as the PKCS#11 helper (`PROGRAM pkcs11-helper MODULE`); default: this
    /// agent's own executable.
    pub pkcs11_helper: Option<PathBuf>,
    /// How far the agent's clock (the signing time it writes) is from the system's: set by
    /// tests in code only (a real certificate that expired in 2024 signs at a time inside its
    /// validity), never read from a file or the environment.
    #[serde(skip)]
    pub clock_offset: time::Duration,
    /// Where removable media are mounted (default `/media/$USER`, `/run/media/$USER`): set
    /// by tests in code only.
    #[serde(skip)]
    pub media_bases: Option<Vec<PathBuf>>,
}

/// The user's login name: `$USER`, `$LOGNAME`, else the `/etc/passwd` entry of this process's
/// uid — a service or a desktop session may start without `$USER`, and the media would then
/// be looked for in `/media/`.
pub fn user_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(|| {
            let uid = std::fs::metadata("/proc/self").ok()?.uid();
            name_in_passwd(&std::fs::read_to_string("/etc/passwd").ok()?, uid)
        })
}

/// The name of `uid` in a passwd file's text.
pub fn name_in_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// Each medium mounted under `bases`, and its folders one level down (CAs and people put
/// `Key-6.dat` in a folder such as `KEYS/` on the stick), with the medium each stands for.
pub fn removable_roots(bases: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let dirs = |p: &std::path::Path| -> Vec<PathBuf> {
        let mut d: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|e| {
                e.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        d.sort();
        d
    };
    let mut roots = Vec::new();
    for base in bases {
        for medium in dirs(base) {
            let name = medium
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for sub in dirs(&medium) {
                let sub_name = sub
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                roots.push((sub, format!("removable: {name}/{sub_name}")));
            }
            roots.push((medium, format!("removable: {name}")));
        }
    }
    roots
}

impl Default for Config {
    fn default() -> Config {
        Config {
            port: DEFAULT_PORT,
            https_port: DEFAULT_PORT + 1,
            https: true,
            data_dir: default_data_dir(),
            containers: Vec::new(),
            removable_media: true,
            dev_mode: false,
            request_ttl: 120,
            remember: 300,
            deny_cooldown: 60,
            max_document: 50 * 1024 * 1024,
            lockout_after: 5,
            lockout: 300,
            approval_delay_ms: 800,
            log: "info".into(),
            pkcs11_modules: Vec::new(),
            pkcs11_probe: true,
            pkcs11_helper: None,
            clock_offset: time::Duration::ZERO,
            media_bases: None,
        }
    }
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("brama-agent")
}

impl Config {
    /// Defaults, then the file (if given), then `BRAMA_AGENT_*` variables.
    pub fn load(file: Option<&std::path::Path>) -> Result<Config, String> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(format!("config file {} does not exist", file.display()));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("BRAMA_AGENT_").split("__"));
        figment.extract().map_err(|e| format!("configuration: {e}"))
    }

    pub fn request_ttl(&self) -> Duration {
        Duration::from_secs(self.request_ttl)
    }

    /// The PKCS#11 modules to load: the configured ones, then the well-known ones present.
    pub fn pkcs11_modules(&self) -> Vec<PathBuf> {
        let mut modules = self.pkcs11_modules.clone();
        if self.pkcs11_probe {
            modules.extend(
                crate::tokens::WELL_KNOWN_MODULES
                    .iter()
                    .map(PathBuf::from)
                    .filter(|p| p.exists()),
            );
        }
        modules
    }

    /// Folders searched for containers, each with the medium it stands for.
    pub fn container_roots(&self) -> Vec<(PathBuf, String)> {
        let mut roots = vec![(self.data_dir.join("containers"), "agent".to_string())];
        roots.extend(
            self.containers
                .iter()
                .map(|p| (p.clone(), format!("folder: {}", p.display()))),
        );
        if self.removable_media {
            let bases = self.media_bases.clone().unwrap_or_else(|| {
                let user = user_name().unwrap_or_default();
                vec![
                    PathBuf::from("/media").join(&user),
                    PathBuf::from("/run/media").join(&user),
                ]
            });
            roots.extend(removable_roots(&bases));
        }
        roots
    }
}

#[cfg(test)]
mod media_tests {
    use super::*;

    #[test]
    fn the_user_is_found_in_passwd_and_media_one_level_down() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nолена:x:1000:1000::/home/o:/bin/sh\n";
        assert_eq!(name_in_passwd(passwd, 1000).as_deref(), Some("олена"));
        assert_eq!(name_in_passwd(passwd, 7), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("STICK/KEYS")).unwrap();
        let roots = removable_roots(&[dir.path().to_path_buf()]);
        let media: Vec<&str> = roots.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(media, ["removable: STICK/KEYS", "removable: STICK"]);
    }
}
