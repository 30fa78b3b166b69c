//! What `/status.json` answers: this gateway, its Redis as `/readyz` sees it, its rooms
//! with their people, edit rates and file states, and the short history for the charts.
//!
//! Built from what is already kept (the registry's published facts, the sessions' count,
//! the samples): no room is asked anything. What may appear is chosen field by field:
//! people show as their cursors show them to the file's other viewers (a name and a
//! colour, never a user id that is not also the cursor's name), and nothing here reads a
//! token, a `sandbox_ip` or a file failure's reason (which may name the agent's address).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::samples::{PERIOD, Point, Samples};
use crate::config::FilesMode;
use crate::engine::readiness::NodeHealth;
use crate::room::published::{FileStatus, Person};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct Status {
    pub gateway: Gateway,
    pub redis: Redis,
    /// `none`, `dir` or `sandbox` (`--files`).
    pub files: &'static str,
    pub rooms: Vec<Room>,
    pub series: Series,
}

#[derive(Debug, Serialize)]
pub struct Gateway {
    pub id: String,
    pub version: &'static str,
    pub uptime_secs: u64,
    /// Draining (SIGTERM): clients were told 1012 and pending edits are being stored.
    pub draining: bool,
    pub connections: usize,
    pub rooms: usize,
}

#[derive(Debug, Serialize)]
pub struct Redis {
    /// What `/readyz` answers now.
    pub ready: bool,
    /// Its reason when not ready: slots and node addresses, never keys or client addresses.
    pub reason: Option<String>,
    /// Under `--redis-cluster`: each master as the background probe last found it.
    pub nodes: Vec<NodeHealth>,
}

#[derive(Debug, Serialize)]
pub struct Room {
    pub file: String,
    pub connections: usize,
    /// Who is in it, one entry per person (with their connections here).
    pub people: Vec<PersonJson>,
    pub edits: u64,
    pub edits_per_sec: f64,
    /// With `--files dir|sandbox`.
    pub file_state: Option<FileJson>,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PersonJson {
    pub name: String,
    pub color: Option<String>,
    pub read_only: bool,
    pub connections: usize,
}

#[derive(Debug, Serialize)]
pub struct FileJson {
    pub state: &'static str,
    /// Seconds since this gateway last wrote the file (none: not since the room opened).
    pub last_write_secs_ago: Option<f64>,
    /// This gateway holds the write lease (the others report what they last did).
    pub writer: bool,
}

#[derive(Debug, Serialize)]
pub struct Series {
    pub period_ms: u64,
    pub points: Vec<Point>,
}

/// The status of the gateway behind `state` now.
pub async fn take(state: &Arc<AppState>, samples: &Samples) -> Status {
    let now = Instant::now();
    let readiness = crate::engine::readiness::check_in_time(&*state.readiness).await;
    let mut rooms: Vec<Room> = state
        .rooms
        .published()
        .into_iter()
        .map(|(file, id, published)| {
            let facts = published.snapshot();
            Room {
                file: file.as_str().to_owned(),
                connections: facts.people.len(),
                people: people(facts.people),
                edits: facts.edits,
                edits_per_sec: samples.edit_rate(id, facts.edits, now),
                file_state: facts.file.map(|f| file_json(f, now)),
            }
        })
        .collect();
    rooms.sort_by(|a, b| a.file.cmp(&b.file));
    Status {
        gateway: Gateway {
            id: state.bus.gateway_id().to_owned(),
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: now.saturating_duration_since(samples.started()).as_secs(),
            draining: *state.shutdown.borrow(),
            connections: state.sessions.live(),
            rooms: rooms.len(),
        },
        redis: Redis {
            ready: readiness.is_ok(),
            reason: readiness.err().map(|not_ready| not_ready.0),
            nodes: state.readiness.nodes(),
        },
        files: match state.config.files {
            FilesMode::None => "none",
            FilesMode::Dir => "dir",
            FilesMode::Sandbox => "sandbox",
        },
        rooms,
        series: Series {
            period_ms: PERIOD.as_millis() as u64,
            points: samples.points(),
        },
    }
}

/// One entry per person, with how many of their connections are in the room.
fn people(connections: Vec<Person>) -> Vec<PersonJson> {
    let mut counted: BTreeMap<Person, usize> = BTreeMap::new();
    for person in connections {
        *counted.entry(person).or_default() += 1;
    }
    counted
        .into_iter()
        .map(|(person, connections)| PersonJson {
            name: person.name.to_string(),
            color: person.color.map(|c| c.to_string()),
            read_only: person.read_only,
            connections,
        })
        .collect()
}

fn file_json(status: FileStatus, now: Instant) -> FileJson {
    FileJson {
        state: status.state.as_str(),
        last_write_secs_ago: status
            .last_write
            .map(|at| now.saturating_duration_since(at).as_secs_f64()),
        writer: status.writer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, read_only: bool) -> Person {
        Person {
            name: Arc::from(name),
            color: Some(Arc::from("#abcdef")),
            read_only,
        }
    }

    #[test]
    fn a_person_with_several_connections_shows_once() {
        let listed = people(vec![
            person("Bo", false),
            person("Ann", false),
            person("Bo", false),
            person("Bo", true),
        ]);
        let summary: Vec<(&str, bool, usize)> = listed
            .iter()
            .map(|p| (p.name.as_str(), p.read_only, p.connections))
            .collect();
        assert_eq!(
            summary,
            [("Ann", false, 1), ("Bo", false, 2), ("Bo", true, 1)]
        );
    }
}
