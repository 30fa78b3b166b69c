//! The oldest Redis the engine's commands run on, checked once at connect: a gateway on an
//! older server refuses to start with one clear error instead of failing later, on the
//! first exclusive `XRANGE (` (catch-up) or `XTRIM MINID` (compaction), both Redis 6.2.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// The oldest Redis version the engine supports.
pub const MINIMUM: RedisVersion = RedisVersion {
    major: 6,
    minor: 2,
    patch: 0,
};

/// A Redis server's `redis_version` (Valkey reports a compatible one there too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RedisVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for RedisVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[derive(Debug, Error)]
pub enum VersionError {
    #[error(
        "Redis {found} found, Redis {MINIMUM} or later needed (the gateway uses XRANGE with \
         exclusive ranges and XTRIM MINID): run a newer redis-server (Debian 12 and \
         Ubuntu 24.04 ship 7.x; Ubuntu 22.04's 6.0 is too old) or the redis:7 container image"
    )]
    TooOld { found: RedisVersion },
    #[error("cannot tell the Redis version: INFO server has no readable redis_version line")]
    Unknown,
    #[error("asking Redis for its version (INFO server): {0}")]
    Redis(#[from] redis::RedisError),
    #[error("asking Redis for its version (INFO server): no answer within {0:?}")]
    Timeout(Duration),
}

/// How long the version question may take.
const ASK_WITHIN: Duration = Duration::from_secs(10);

/// Asks the Redis at `url` for its version (`INFO server`) and refuses one older than
/// [`MINIMUM`]; returns the version found.
pub async fn require_supported(url: &str) -> Result<RedisVersion, VersionError> {
    let ask = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await?;
        Ok::<_, VersionError>(info)
    };
    let info = tokio::time::timeout(ASK_WITHIN, ask)
        .await
        .map_err(|_| VersionError::Timeout(ASK_WITHIN))??;
    check(&info)
}

/// The version in an `INFO server` reply, if it is [`MINIMUM`] or later.
pub fn check(info: &str) -> Result<RedisVersion, VersionError> {
    let found = parse_info(info).ok_or(VersionError::Unknown)?;
    if found < MINIMUM {
        return Err(VersionError::TooOld { found });
    }
    Ok(found)
}

/// The `redis_version:X.Y.Z` field of an `INFO` reply.
fn parse_info(info: &str) -> Option<RedisVersion> {
    info.lines()
        .find_map(|line| line.trim_end().strip_prefix("redis_version:"))
        .and_then(parse_version)
}

/// `X.Y.Z` (a missing patch counts as 0; a suffix such as `-rc1` is ignored).
fn parse_version(text: &str) -> Option<RedisVersion> {
    let mut parts = text.trim().split('.');
    let mut number = |required: bool| -> Option<u32> {
        match parts.next() {
            Some(part) => {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            }
            None if required => None,
            None => Some(0),
        }
    };
    Some(RedisVersion {
        major: number(true)?,
        minor: number(true)?,
        patch: number(false)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: &str) -> String {
        format!(
            "# Server\r\nredis_git_sha1:00000000\r\nredis_version:{version}\r\nredis_mode:standalone\r\n"
        )
    }

    fn v(major: u32, minor: u32, patch: u32) -> RedisVersion {
        RedisVersion {
            major,
            minor,
            patch,
        }
    }

    #[test]
    fn reads_the_version_of_an_info_reply() {
        assert_eq!(check(&info("7.0.15")).expect("7.0.15"), v(7, 0, 15));
        assert_eq!(check(&info("6.2.0")).expect("6.2.0"), v(6, 2, 0));
        assert_eq!(check(&info("6.2")).expect("6.2"), v(6, 2, 0));
        assert_eq!(check(&info("7.4.0-rc1")).expect("rc"), v(7, 4, 0));
        assert_eq!(check(&info("10.0.1")).expect("10"), v(10, 0, 1));
        assert_eq!(check(&info("6.10.0")).expect("6.10"), v(6, 10, 0));
    }

    #[test]
    fn refuses_what_is_older_than_6_2() {
        for old in ["6.0.16", "6.1.99", "5.0.7", "4.0.9"] {
            match check(&info(old)) {
                Err(VersionError::TooOld { found }) => assert_eq!(found.to_string(), old),
                other => panic!("{old}: {other:?}"),
            }
        }
        let message = check(&info("6.0.16")).expect_err("too old").to_string();
        assert!(
            message.starts_with("Redis 6.0.16 found, Redis 6.2.0 or later needed"),
            "{message}"
        );
        assert!(
            message.contains("redis-server"),
            "says how to get one: {message}"
        );
    }

    #[test]
    fn an_unreadable_reply_is_an_error_not_a_pass() {
        for reply in [
            "",
            "# Server\r\n",
            "redis_version:\r\n",
            "redis_version:seven\r\n",
        ] {
            assert!(
                matches!(check(reply), Err(VersionError::Unknown)),
                "{reply:?}"
            );
        }
    }
}
