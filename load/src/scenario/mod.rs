//! Named presets of a load run, one file each. A scenario turns its flags into editor
//! plans (which file, which target, what behaviour), drives the fleet's phases and builds
//! the report: `edit-storm`, `fan-out`, `idle`, `join-storm`, `awareness`. What they share
//! is in [`common`].

use clap::Subcommand;

use crate::config::CommonArgs;
use crate::report::Report;

pub mod awareness;
pub mod common;
pub mod edit_storm;
pub mod fan_out;
pub mod idle;
pub mod join_storm;

/// The scenarios this build knows.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Many editors typing into many files across the targets (default: 1,000 editors on
    /// 100 files, 1 edit/s each, 60 s).
    EditStorm(edit_storm::Args),
    /// One writer, many observers of one file spread over the targets (default: 1 writer
    /// at 10 edits/s, 1,500 observers, 30 s); propagation writer -> observers.
    FanOut(fan_out::Args),
    /// Many connections that sync once and stay idle (default 20,000); the gateways' RSS
    /// per connection.
    Idle(idle::Args),
    /// Many editors open one large document at the same moment (default: 150 joiners,
    /// 20 MB of text seeded first); time from connect to synced, servers' peak RSS.
    JoinStorm(join_storm::Args),
    /// Many editors move their cursors and never type (default: 500 editors on 10 files,
    /// 1 move/s each, 60 s); cursor propagation.
    Awareness(awareness::Args),
}

impl Scenario {
    /// The flags every scenario shares.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Scenario::EditStorm(args) => &args.common,
            Scenario::FanOut(args) => &args.common,
            Scenario::Idle(args) => &args.common,
            Scenario::JoinStorm(args) => &args.common,
            Scenario::Awareness(args) => &args.common,
        }
    }

    pub async fn run(self) -> anyhow::Result<Report> {
        match self {
            Scenario::EditStorm(args) => edit_storm::run(args).await,
            Scenario::FanOut(args) => fan_out::run(args).await,
            Scenario::Idle(args) => idle::run(args).await,
            Scenario::JoinStorm(args) => join_storm::run(args).await,
            Scenario::Awareness(args) => awareness::run(args).await,
        }
    }
}
