//! Diagnostics in the room, without IO: when the text is checked, which markers each
//! opted-in connection is shown, and which versions external tools may post for.
//!
//! - Every change restarts a short quiet timer (`--diagnostics-debounce-ms`); a text that
//!   keeps changing is still checked every `max_interval` while someone here watches or a
//!   post waits (else it is versioned when it settles). One check is out at a time;
//!   changes during it make the next one. A check always yields the text's version (its
//!   SHA-256), and syntax markers when someone here opted into diagnostics and the file's
//!   extension has a grammar.
//! - Markers reach opted-in members on join, when a check finishes, and when another
//!   gateway (or an external tool) publishes them. Syntax markers are shown only for the
//!   text's current version; an external source's newest markers are shown as they come
//!   (the client drops those of a text it no longer has).
//! - An external post names a version: accepted when it is the current or a recent one;
//!   another version waits up to two seconds for the text to become it (the tool may
//!   have read it through another gateway), then is refused.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use collab_protocol::FileId;
use collab_syntax::{Language, SyntaxChecker};

use crate::ext::diagnostics::message::Diagnostics;
use crate::ext::diagnostics::{CheckDone, CheckJob, SYNTAX, Settings, SyntaxOutcome};
use crate::ext::{Feature, OptIns};
use crate::presence::ConnId;

use super::post::{PostAnswer, PostCheck};
use crate::effect::{Effect, Effects};
use crate::member::Member;

/// Versions before the current one that posts may still name.
const RECENT_VERSIONS: usize = 16;
/// How long to wait for another gateway's syntax markers before checking again (its claim
/// then has expired, so this gateway takes it over).
const AWAIT_ELSEWHERE: Duration = Duration::from_secs(3);
/// How long a post for a version the room has not seen yet waits for the text to settle.
const POST_WAIT: Duration = Duration::from_secs(2);
/// Posts waiting at once; more are refused as busy.
const MAX_WAITING_POSTS: usize = 64;
/// Syntax results heard for versions not current here (yet).
const HEARD: usize = 4;

struct Waiting {
    post: PostCheck,
    since: Instant,
}

struct Shown {
    version: Arc<str>,
    frame: Bytes,
}

pub struct DiagDesk {
    settings: Settings,
    language: Option<Language>,
    /// Members that opted into diagnostics.
    watchers: usize,
    /// The replica's change count when last looked at.
    seen: u64,
    /// The last change not checked yet, and the first.
    changed_at: Option<Instant>,
    dirty_since: Option<Instant>,
    /// Check at once (the room opened, or someone started watching).
    check_now: bool,
    checking: bool,
    checker: Option<Box<SyntaxChecker>>,
    /// The version of the text at the last finished check, and earlier ones.
    current: Option<Arc<str>>,
    recent: VecDeque<Arc<str>>,
    /// The version syntax markers were last asked for.
    syntax_for: Option<Arc<str>>,
    /// Another gateway checks the current version: check again if nothing came by then.
    awaiting: Option<Instant>,
    shown: BTreeMap<String, Shown>,
    heard: VecDeque<Diagnostics>,
    posts: Vec<Waiting>,
}

impl DiagDesk {
    pub fn new(settings: Settings, file: &FileId) -> Self {
        DiagDesk {
            settings,
            language: Language::for_path(file.as_str()),
            watchers: 0,
            seen: 0,
            changed_at: None,
            dirty_since: None,
            check_now: true,
            checking: false,
            checker: None,
            current: None,
            recent: VecDeque::new(),
            syntax_for: None,
            awaiting: None,
            shown: BTreeMap::new(),
            heard: VecDeque::new(),
            posts: Vec::new(),
        }
    }

    fn wants_syntax(&self) -> bool {
        self.settings.syntax && self.language.is_some() && self.watchers > 0
    }

    /// When the next check is due, given the replica's change count (called after every
    /// input, so a change is timed when it happened).
    pub fn due(&mut self, changes: u64, now: Instant) -> Option<Instant> {
        if changes != self.seen {
            self.seen = changes;
            self.changed_at = Some(now);
            self.dirty_since.get_or_insert(now);
        }
        if self.checking {
            return None;
        }
        let settled = match (self.changed_at, self.dirty_since) {
            (Some(changed), Some(first)) => {
                let quiet = changed + self.settings.debounce;
                // A text that keeps changing is checked every interval for watchers (their
                // markers while typing) and for waiting posts. Without either, only a
                // settled text is worth versioning: a tool posts for what it read after
                // the typing paused, and the text taken out mid-burst was a gateway's
                // largest cost after the writes (whole text, SHA-256, once a second a file).
                Some(if self.wants_syntax() || !self.posts.is_empty() {
                    quiet.min(first + self.settings.max_interval)
                } else {
                    quiet
                })
            }
            _ => None,
        };
        let unchecked = self.wants_syntax() && self.syntax_for != self.current;
        let now_due = (self.check_now || unchecked).then_some(now);
        let post_expires = self.posts.iter().map(|w| w.since + POST_WAIT).min();
        [settled, now_due, self.awaiting, post_expires]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn posts_waiting(&self) -> bool {
        !self.posts.is_empty()
    }

    /// Refuses the posts that waited too long for their version.
    pub fn expire_posts(&mut self, now: Instant, fx: &mut Effects) {
        if self.posts.iter().any(|w| now >= w.since + POST_WAIT) {
            self.answer_posts(now, fx);
        }
    }

    /// Starts a check of `text` (the replica's text now).
    pub fn start(&mut self, text: String) -> CheckJob {
        self.checking = true;
        self.check_now = false;
        self.changed_at = None;
        self.dirty_since = None;
        self.awaiting = None;
        let syntax = match (self.wants_syntax(), self.language) {
            (true, Some(language)) => Some((language, self.checker.take())),
            _ => None,
        };
        CheckJob { text, syntax }
    }

    /// A check finished (`None`: it failed before it had a version).
    pub fn on_checked(
        &mut self,
        done: Option<CheckDone>,
        members: &HashMap<ConnId, Member>,
        fx: &mut Effects,
        now: Instant,
    ) {
        self.checking = false;
        let Some(done) = done else {
            self.check_now = true;
            return;
        };
        if done.checker.is_some() {
            self.checker = done.checker;
        }
        let version = done.version;
        if self.current.as_ref() != Some(&version)
            && let Some(previous) = self.current.replace(version.clone())
        {
            self.recent.push_front(previous);
            self.recent.truncate(RECENT_VERSIONS);
        }
        match done.syntax {
            Some(SyntaxOutcome::Markers(frame)) => {
                self.syntax_for = Some(version.clone());
                self.show(SYNTAX, version.clone(), frame, members, fx);
            }
            Some(SyntaxOutcome::Elsewhere) => {
                self.syntax_for = Some(version.clone());
                match self.heard.iter().position(|d| *d.version == *version) {
                    Some(at) => {
                        let heard = self.heard.remove(at).map(|d| d.frame);
                        if let Some(frame) = heard {
                            self.show(SYNTAX, version.clone(), frame, members, fx);
                        }
                    }
                    None => self.awaiting = Some(now + AWAIT_ELSEWHERE),
                }
            }
            Some(SyntaxOutcome::Failed) => {
                self.syntax_for = Some(version.clone());
                self.awaiting = Some(now + AWAIT_ELSEWHERE);
            }
            None => {}
        }
        self.answer_posts(now, fx);
    }

    /// A `diagnostics` message from the file's channel (another gateway's check, an
    /// external tool's post, or this gateway's own, which may come before the check's
    /// result does).
    pub fn on_remote(&mut self, json: &[u8], members: &HashMap<ConnId, Member>, fx: &mut Effects) {
        let Some(message) = Diagnostics::decode(json) else {
            tracing::warn!("a diagnostics message on the channel does not decode");
            return;
        };
        let version: Arc<str> = Arc::from(message.version.as_str());
        if message.source != SYNTAX {
            self.show(&message.source, version, message.frame, members, fx);
        } else if self.current.as_ref() == Some(&version) {
            self.awaiting = None;
            self.show(SYNTAX, version, message.frame, members, fx);
        } else {
            self.heard.push_front(message);
            self.heard.truncate(HEARD);
        }
    }

    /// The newest stored message of each source, read when the room opened: shown unless
    /// something newer already came.
    pub fn on_loaded(
        &mut self,
        messages: Vec<Bytes>,
        members: &HashMap<ConnId, Member>,
        fx: &mut Effects,
    ) {
        for json in messages {
            match Diagnostics::decode(&json) {
                Some(message) if message.source != SYNTAX => {
                    if !self.shown.contains_key(&message.source) {
                        let version = Arc::from(message.version.as_str());
                        self.show(&message.source, version, message.frame, members, fx);
                    }
                }
                Some(_) => {}
                None => tracing::warn!("stored diagnostics do not decode"),
            }
        }
    }

    /// Records what `source` shows now and sends it to every watcher, unless it is what
    /// they already have.
    fn show(
        &mut self,
        source: &str,
        version: Arc<str>,
        frame: Bytes,
        members: &HashMap<ConnId, Member>,
        fx: &mut Effects,
    ) {
        if let Some(shown) = self.shown.get(source)
            && shown.version == version
            && shown.frame == frame
        {
            return;
        }
        for (conn, member) in members {
            if member.opt_ins.wants(Feature::Diagnostics) {
                fx.send(*conn, frame.clone());
            }
        }
        self.shown
            .insert(source.to_owned(), Shown { version, frame });
    }

    /// A member joined: a watcher counts from now on (if the current text's syntax markers
    /// were never asked for, a check is due at once).
    pub fn on_join(&mut self, opt_ins: OptIns) {
        if opt_ins.wants(Feature::Diagnostics) {
            self.watchers += 1;
        }
    }

    /// A member's first sync was answered: a watcher gets every source's markers, after
    /// the text they belong to (a client that checks versions would drop them before).
    pub fn on_synced(&mut self, conn: ConnId, opt_ins: OptIns, fx: &mut Effects) {
        if opt_ins.wants(Feature::Diagnostics) {
            for shown in self.shown.values() {
                fx.send(conn, shown.frame.clone());
            }
        }
    }

    pub fn on_leave(&mut self, opt_ins: OptIns) {
        if opt_ins.wants(Feature::Diagnostics) {
            self.watchers = self.watchers.saturating_sub(1);
        }
    }

    /// The replica was rebuilt: the next check starts from a fresh tree.
    pub fn on_reloaded(&mut self) {
        self.checker = None;
        self.check_now = true;
    }

    /// An external tool's post: answered now when the version is known (or unknowable),
    /// else when the next check finishes.
    pub fn on_post(&mut self, post: PostCheck, now: Instant, fx: &mut Effects) {
        if let Some(post) = self.try_answer(post, false, fx) {
            if self.posts.len() >= MAX_WAITING_POSTS {
                let (id, answer) = (post.id, PostAnswer::Busy);
                fx.push(Effect::AnswerPost { id, answer });
                return;
            }
            self.check_now |= self.current.is_none();
            self.posts.push(Waiting { post, since: now });
        }
    }

    fn answer_posts(&mut self, now: Instant, fx: &mut Effects) {
        for waiting in std::mem::take(&mut self.posts) {
            let expired = now.duration_since(waiting.since) >= POST_WAIT;
            if let Some(post) = self.try_answer(waiting.post, expired, fx) {
                self.posts.push(Waiting {
                    post,
                    since: waiting.since,
                });
            }
        }
    }

    /// Answers `post` if its version is known, or if `last_chance`; gives it back to wait
    /// (the text may be about to become that version: the tool read it elsewhere first).
    fn try_answer(
        &self,
        post: PostCheck,
        last_chance: bool,
        fx: &mut Effects,
    ) -> Option<PostCheck> {
        let Some(current) = self.current.clone() else {
            return Some(post);
        };
        let known = match &post.version {
            None => true,
            Some(version) => *current == **version || self.recent.iter().any(|v| **v == **version),
        };
        let answer = if known {
            PostAnswer::Accepted { current }
        } else if last_chance {
            PostAnswer::Stale { current }
        } else {
            return Some(post);
        };
        fx.push(Effect::AnswerPost {
            id: post.id,
            answer,
        });
        None
    }
}
