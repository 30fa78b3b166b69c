//! Readiness on one Redis: the subscription connection is up and the server answers a
//! `PING` on the command connection.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::router::Router;
use crate::engine::readiness::{NotReady, Readiness};

pub struct RedisReadiness {
    pub router: Arc<Router>,
    pub conn: ConnectionManager,
}

impl Readiness for RedisReadiness {
    fn check(&self) -> BoxFuture<'_, Result<(), NotReady>> {
        Box::pin(async move {
            if !self.router.is_live() {
                return Err(NotReady("redis subscription down".into()));
            }
            let mut conn = self.conn.clone();
            let pong: redis::RedisResult<String> = conn.ping().await;
            pong.map(drop)
                .map_err(|_| NotReady("redis unreachable".into()))
        })
    }
}
