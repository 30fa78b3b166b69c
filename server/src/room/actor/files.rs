//! The room actor's files part (`--files`): seeding the file at open, handing the keeper's
//! inputs to it, and the last write when the room closes ([`crate::ext::files::keeper`]).

use crate::ext::files::keeper::{Input, Keeper};
use crate::ext::files::seed::{SeedError, seed_once};

use super::super::handle::JoinError;
use super::Actor;

impl Actor {
    /// With `--files`: seeds the file from its source if Redis lacks it, and starts its
    /// keeper. A file that may not be opened refuses the room's joiners with 4400.
    pub(super) async fn open_file(&mut self) -> Result<(), JoinError> {
        let Some(files) = self.ctx.files.clone() else {
            return Ok(());
        };
        let text_name = &self.ctx.config.text_name;
        match seed_once(&files, &*self.ctx.store, &self.file, text_name).await {
            Ok(()) => {}
            Err(SeedError::Refused(why)) => {
                tracing::info!(%why, "the file cannot be opened");
                return Err(JoinError::Invalid(why));
            }
            Err(SeedError::Unavailable(why)) => {
                tracing::warn!(%why, "loading the file failed");
                return Err(JoinError::Unavailable(why));
            }
        }
        self.files = Some(Keeper::new(self.file.clone(), files));
        Ok(())
    }

    pub(super) fn on_file(&mut self, input: Input) {
        if let Some(keeper) = self.files.as_mut() {
            keeper.handle(input, &mut self.core, &mut self.fx);
        }
    }

    /// The room closes: its file gets its last write, within the drain deadline.
    pub(super) async fn close_file(&mut self) {
        let Some(keeper) = self.files.as_mut() else {
            return;
        };
        let deadline = self.ctx.config.drain_timeout();
        let closing = keeper.close(&mut self.core, &mut self.fx);
        if tokio::time::timeout(deadline, closing).await.is_err() {
            tracing::error!("the file's last write did not finish in time");
        }
        self.run_effects().await;
    }
}
