//! Parsing script replies without trusting their shape.

use redis::Value;

use crate::engine::error::EngineError;
use collab_room_core::digest;
use collab_room_core::ext::undo::{Popped, UndoCounts};
use collab_room_core::tail::{EntryMark, LogEntry, LogHead, Tail};

fn bad(what: &str) -> EngineError {
    EngineError::Reply(what.to_owned())
}

fn int(v: &Value) -> Result<u64, EngineError> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as u64),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("number")),
        _ => Err(bad("number")),
    }
}

fn bytes(v: Value) -> Result<Vec<u8>, EngineError> {
    match v {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        _ => Err(bad("string")),
    }
}

fn array(v: Value) -> Result<Vec<Value>, EngineError> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        _ => Err(bad("array")),
    }
}

/// A stream id `<pos>-1` to its position.
fn position(id: &[u8]) -> Result<u64, EngineError> {
    std::str::from_utf8(id)
        .ok()
        .and_then(|s| s.split('-').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("stream id"))
}

/// `{undo count, redo count[, item]}`.
pub fn parse_popped(reply: Value) -> Result<Popped, EngineError> {
    let mut parts = array(reply)?.into_iter();
    let (Some(undo), Some(redo)) = (parts.next(), parts.next()) else {
        return Err(bad("two counts"));
    };
    let counts = UndoCounts {
        undo: int(&undo)?,
        redo: int(&redo)?,
    };
    let item = parts.next().map(bytes).transpose()?;
    Ok(Popped { item, counts })
}

/// `{spos, state | false, [[id, [field, value, ...]], ...], head, origin at since | false,
/// digest at since | false}`.
pub fn parse_tail(reply: Value) -> Result<Tail, EngineError> {
    let mut parts = array(reply)?.into_iter();
    let (Some(spos), Some(state), Some(entries), Some(head), Some(at_since)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("tail of five parts"));
    };
    let at_since_digest = parts.next().unwrap_or(Value::Nil);
    let log_head = int(&head)?;
    let spos = int(&spos)?;
    let snapshot = match state {
        Value::Nil | Value::Boolean(false) => None,
        other => Some((spos, bytes(other)?)),
    };
    let mut out = Vec::new();
    for entry in array(entries)? {
        let mut pair = array(entry)?.into_iter();
        let (Some(id), Some(fields)) = (pair.next(), pair.next()) else {
            return Err(bad("stream entry"));
        };
        let pos = position(&bytes(id)?)?;
        let mut origin = String::new();
        let mut update = None;
        let mut fields = array(fields)?.into_iter();
        while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
            match bytes(k)?.as_slice() {
                b"o" => origin = String::from_utf8_lossy(&bytes(v)?).into_owned(),
                b"u" => update = Some(bytes(v)?),
                _ => {}
            }
        }
        let update = update.ok_or_else(|| bad("entry without update"))?;
        out.push(LogEntry {
            pos,
            origin,
            update,
        });
    }
    Ok(Tail {
        snapshot,
        entries: out,
        log_head,
        at_since: mark(at_since, at_since_digest)?,
    })
}

/// `{head, origin | false, digest | false}`.
pub fn parse_head(reply: Value) -> Result<LogHead, EngineError> {
    let mut parts = array(reply)?.into_iter();
    let (Some(pos), Some(origin_of_last)) = (parts.next(), parts.next()) else {
        return Err(bad("head of two parts"));
    };
    let digest = parts.next().unwrap_or(Value::Nil);
    Ok(LogHead {
        pos: int(&pos)?,
        last: mark(origin_of_last, digest)?,
    })
}

/// An entry's writer and digest; none without a writer. A digest that is not one (absent
/// in entries of older gateways) counts as none, so the writer's name decides.
fn mark(origin_of: Value, digest: Value) -> Result<Option<EntryMark>, EngineError> {
    let Some(origin) = origin(origin_of)? else {
        return Ok(None);
    };
    let digest = match digest {
        Value::BulkString(text) => digest::from_hex(&text),
        Value::SimpleString(text) => digest::from_hex(text.as_bytes()),
        _ => None,
    };
    Ok(Some(EntryMark { origin, digest }))
}

/// A gateway id, or false/nil for none.
fn origin(value: Value) -> Result<Option<String>, EngineError> {
    match value {
        Value::Nil | Value::Boolean(false) => Ok(None),
        other => Ok(Some(String::from_utf8_lossy(&bytes(other)?).into_owned())),
    }
}
