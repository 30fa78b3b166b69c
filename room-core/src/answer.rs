//! The sync step 2 answer cache. The last answer is shared with the next joiner that asks
//! with the same state vector while the doc is unchanged: in a join storm every newcomer
//! asks with an empty one, and encoding a large doc once per joiner cost ~80 ms each on
//! the room task and a private copy of the whole doc per queued answer.

use bytes::Bytes;
use collab_protocol::message::encode_step2;

use crate::replica::{ApplyError, Replica};

/// A sync step 2 frame and what it answered.
struct Answer {
    asked: yrs::StateVector,
    version: u64,
    frame: Bytes,
}

#[derive(Default)]
pub struct AnswerCache(Option<Answer>);

impl AnswerCache {
    /// Sync step 2 for a client at `asked`: what it lacks, encoded once per doc version
    /// and state vector.
    pub fn answer(
        &mut self,
        replica: &Replica,
        asked: yrs::StateVector,
    ) -> Result<Bytes, ApplyError> {
        let version = replica.version();
        if let Some(last) = &self.0
            && last.version == version
            && last.asked == asked
        {
            return Ok(last.frame.clone());
        }
        let frame = Bytes::from(encode_step2(&replica.diff(&asked)?));
        self.0 = Some(Answer {
            asked,
            version,
            frame: frame.clone(),
        });
        Ok(frame)
    }

    /// A cached answer only helps joiners arriving together; a large doc's copy is not
    /// held for longer (and a replaced replica's never).
    pub fn forget(&mut self) {
        self.0 = None;
    }
}
