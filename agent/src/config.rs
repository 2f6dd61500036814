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
            let user = std::env::var("USER").unwrap_or_default();
            for base in [format!("/media/{user}"), format!("/run/media/{user}")] {
                if let Ok(entries) = std::fs::read_dir(&base) {
                    for e in entries.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        roots.push((e.path(), format!("removable: {name}")));
                    }
                }
            }
        }
        roots
    }
}
