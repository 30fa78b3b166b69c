//! Files: a document opened from where its file lives, its edits written back, and changes
//! made outside merged in (DESIGN.md, "Files").
//!
//! Redis holds the live document; the file is the durable copy. The parts:
//! - [`source`]: the seam to where files live (load, conditional store, a feed of outside
//!   changes), with [`dir`] (`--files dir`, a folder of this machine) and [`agent`]
//!   (`--files sandbox`, each sandbox's file agent over HTTP) behind it; [`path`] turns a
//!   file id into a relative path and refuses the ones that leave their root.
//! - the sans-IO parts live in the room core (`collab_room_core::ext::files`): the text
//!   codec and seed update, the merge of an outside change, the write-back schedule.
//! - [`seed`]: a file with no state in Redis is seeded from its source once cluster-wide.
//! - [`keeper`]: the room's side: runs writes and outside-change checks one at a time,
//!   under the file's lease, beside the room's actor; [`job`] is one of them (a write or a
//!   check of the source), in a task of its own.
//! - [`settle`]: an outside version is merged only once two reads apart agree (a file
//!   caught in the middle of a save is never merged).

pub mod agent;
pub mod dir;
pub mod job;
pub mod keeper;
pub mod metrics;
pub mod path;
pub mod seed;
pub mod settle;
pub mod source;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{AuthMode, Config, EngineKind, FilesMode};

pub use source::{Etag, FileSource, Loaded, Precondition, SourceChange, SourceError, Watch};

/// What the file settings say, checked at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: FilesMode,
    pub dir: Option<std::path::PathBuf>,
    pub write_back: Duration,
    pub write_back_max: Duration,
    pub max_file_bytes: usize,
    /// With `--files sandbox`: the agents' port and the token they expect.
    pub agent_port: u16,
    pub agent_token: Option<crate::secret::Secret>,
}

impl Settings {
    /// `Ok(None)` under `--files none`; an error for flags that cannot work together.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Settings>> {
        if config.files != FilesMode::None && config.engine == EngineKind::Memory {
            // The write lease and the record of what was last synced with the file live
            // beside the document in Redis; the memory engine keeps neither.
            anyhow::bail!(
                "--files needs --engine redis: the memory engine keeps no record of what was \
                 last written to or read from a file (use --files none with --engine memory)"
            );
        }
        let dir = match config.files {
            FilesMode::None => return Ok(None),
            FilesMode::Dir => match &config.files_dir {
                Some(dir) => Some(dir.clone()),
                None => {
                    anyhow::bail!("--files dir needs --files-dir PATH: the folder of the files")
                }
            },
            FilesMode::Sandbox => {
                if config.auth != AuthMode::Redis {
                    anyhow::bail!(
                        "--files sandbox needs --auth redis: the sandbox agent's address is the \
                         sandbox_ip of the user's record in Redis, and --auth {} has no such \
                         record (no address source)",
                        match config.auth {
                            AuthMode::Jwt => "jwt",
                            _ => "none",
                        }
                    );
                }
                if config
                    .sandbox_agent_token
                    .as_ref()
                    .is_none_or(|t| t.is_empty())
                {
                    anyhow::bail!("--files sandbox needs --sandbox-agent-token");
                }
                None
            }
        };
        Ok(Some(Settings {
            mode: config.files,
            dir,
            write_back: Duration::from_millis(config.write_back_ms.max(1)),
            write_back_max: Duration::from_millis(
                config.write_back_max_ms.max(config.write_back_ms).max(1),
            ),
            max_file_bytes: config.max_file_bytes,
            agent_port: config.sandbox_agent_port,
            agent_token: config.sandbox_agent_token.clone(),
        }))
    }

    /// How long a write lease lives without renewal: a dead holder's lease is taken over
    /// after this.
    pub fn lease_ttl(&self) -> Duration {
        self.write_back_max * 2 + Duration::from_secs(1)
    }
}

/// What every room of a gateway shares for files: the source and the settings.
#[derive(Clone)]
pub struct Files {
    pub settings: Settings,
    pub source: Arc<dyn FileSource>,
    /// What the gateways share about each file's source (ETag, base, write lease).
    pub state: Arc<dyn crate::engine::FileState>,
}

/// Starts the source the settings name, beside the engine's file records.
pub fn start(settings: Settings, engine: &crate::engine::Engine) -> anyhow::Result<Files> {
    let Some(state) = engine.files.clone() else {
        anyhow::bail!("--files: this engine keeps no file records");
    };
    let source: Arc<dyn FileSource> = match (&settings.mode, &settings.dir) {
        (FilesMode::Dir, Some(dir)) => Arc::new(dir::DirSource::start(dir)?),
        (FilesMode::Sandbox, _) => match &settings.agent_token {
            Some(token) => Arc::new(agent::AgentSource::new(
                settings.agent_port,
                token,
                engine.directory.clone(),
            )?),
            None => anyhow::bail!("--files sandbox needs --sandbox-agent-token"),
        },
        _ => anyhow::bail!("--files: no source for these settings"),
    };
    tracing::info!(mode = ?settings.mode, "files: documents open from and write back to their source");
    Ok(Files {
        settings,
        source,
        state,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn settings(args: &[&str]) -> anyhow::Result<Option<Settings>> {
        let mut all = vec!["collab-gateway"];
        all.extend_from_slice(args);
        Settings::from_config(&Config::try_parse_from(all).expect("flags parse"))
    }

    #[test]
    fn flags_and_defaults() {
        assert!(
            settings(&[]).expect("fine").is_none(),
            "--files none by default"
        );
        let dir = settings(&["--files", "dir", "--files-dir", "/tmp/x"])
            .expect("fine")
            .expect("on");
        assert_eq!(dir.write_back, Duration::from_millis(1000));
        assert_eq!(dir.write_back_max, Duration::from_millis(5000));
        assert_eq!(dir.max_file_bytes, 5 << 20);
        let error = settings(&["--files", "dir"]).expect_err("needs a folder");
        assert!(error.to_string().contains("--files-dir"));
    }

    #[test]
    fn the_memory_engine_refuses_files_at_start() {
        let error = settings(&[
            "--engine",
            "memory",
            "--files",
            "dir",
            "--files-dir",
            "/tmp/x",
        ])
        .expect_err("refused");
        assert!(error.to_string().contains("--engine redis"), "{error}");
        assert!(
            settings(&["--engine", "memory"]).expect("fine").is_none(),
            "--files none runs on memory"
        );
    }

    #[test]
    fn sandbox_files_run_under_redis_auth_with_a_token() {
        let on = settings(&[
            "--files",
            "sandbox",
            "--sandbox-agent-token",
            "t0ken-t0ken-t0ken",
        ])
        .expect("fine")
        .expect("on");
        assert_eq!(on.mode, FilesMode::Sandbox);
        assert_eq!(on.agent_port, 7447);
        assert!(
            !format!("{on:?}").contains("t0ken"),
            "the token never prints"
        );
        let error = settings(&["--files", "sandbox"]).expect_err("needs a token");
        assert!(error.to_string().contains("--sandbox-agent-token"));
    }

    #[test]
    fn sandbox_files_need_an_address_source() {
        for auth in ["none", "jwt"] {
            let error = settings(&[
                "--files",
                "sandbox",
                "--auth",
                auth,
                "--sandbox-agent-token",
                "t0ken",
            ])
            .expect_err("refused");
            let said = error.to_string();
            assert!(
                said.contains("no address source") && !said.contains("t0ken"),
                "{said}"
            );
        }
    }
}
