//! What a Redis error means to the store: an outage (`503`), data of
//! another shape (corrupt), or a server's own failure; and a reply read as
//! a value.

use crate::store::error::Error;
use redis::{ErrorKind, FromRedisValue, RedisError, ServerErrorKind, Value};

/// Error codes of a server that cannot take the call now, which redis-rs
/// has no kind for: a script or module running too long (`BUSY`), too few
/// replicas for `min-replicas-to-write` (`NOREPLICAS`), out of memory
/// (`OOM`), a failed save that stops writes (`MISCONF`), a blocked call
/// unblocked by a failover (`UNBLOCKED`).
const OUTAGE_CODES: [&str; 5] = ["BUSY", "NOREPLICAS", "OOM", "MISCONF", "UNBLOCKED"];

/// Whether `e` carries error code `code`: as its code, or, for an error a
/// pipeline or script passed on, as a word of its text.
fn has_code(e: &RedisError, code: &str) -> bool {
    e.code() == Some(code)
        || e.to_string()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word == code)
}

/// The client's error as a store error: an outage, a failover, a slot
/// moving, a server too busy or short of replicas or memory, or a timeout
/// is [`Error::Unavailable`] (`503`); a key of the
/// wrong type (written by something else) is [`Error::Corrupt`].
pub(super) fn error(e: RedisError) -> Error {
    if has_code(&e, "WRONGTYPE") {
        return Error::Corrupt("a Redis key of the store holds a value of another type");
    }
    if matches!(e.kind(), ErrorKind::UnexpectedReturnType | ErrorKind::Parse) {
        return Error::Corrupt("a Redis reply of an unexpected type");
    }
    let outage = OUTAGE_CODES.iter().any(|code| has_code(&e, code))
        || e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                        | ServerErrorKind::NoScript
                        | ServerErrorKind::Moved
                        | ServerErrorKind::Ask
                )
        );
    if outage {
        Error::unavailable(e)
    } else {
        Error::backend(e)
    }
}

/// A reply as a `T`: a server's error as [`error`] says, another shape as
/// corrupt.
pub(super) fn value<T: FromRedisValue>(v: Value) -> Result<T, Error> {
    if let Value::ServerError(e) = v {
        return Err(error(RedisError::from(e)));
    }
    T::from_redis_value(v).map_err(|_| Error::Corrupt("a Redis reply of an unexpected type"))
}

#[cfg(test)]
mod tests {
    use super::error;
    use crate::store::error::Error;

    /// A server's error reply as the client reports it.
    fn reply(text: &str) -> redis::RedisError {
        let value = redis::parse_redis_value(format!("-{text}\r\n").as_bytes()).unwrap();
        value.extract_error().unwrap_err()
    }

    #[test]
    fn a_server_that_cannot_take_the_call_now_is_unavailable() {
        for text in [
            "NOREPLICAS Not enough good replicas to write.",
            "BUSY Redis is busy running a script.",
            "OOM command not allowed when used memory > 'maxmemory'.",
            "MISCONF Redis is configured to save RDB snapshots, but it's unable to persist.",
            "UNBLOCKED force unblock from blocking operation",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "LOADING Redis is loading the dataset in memory",
        ] {
            let e = error(reply(text));
            assert!(e.is_unavailable(), "{text}: {e:?}");
        }
    }

    #[test]
    fn another_shape_is_corrupt_and_a_script_error_is_the_servers() {
        let e = error(reply(
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ));
        assert!(matches!(e, Error::Corrupt(_)), "{e:?}");
        let e = error(reply(
            "ERR user_script:1: Script attempted to access nonexistent global",
        ));
        assert!(!e.is_unavailable(), "{e:?}");
        assert!(!matches!(e, Error::Corrupt(_)), "{e:?}");
    }
}
