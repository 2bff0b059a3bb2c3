//! The demo's settings from the environment (the list is in `demo.rs`'s
//! docs): the session layer and the store.

use axum_user_sessions::store::{Protocol, SessionStore};
use axum_user_sessions::{SessionLayer, SessionProtocol};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn env_secs(name: &str) -> Option<Duration> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => {
            eprintln!("{name}={raw:?} is not a number of seconds; ignored");
            None
        }
    }
}

/// The session layer as the environment configures it.
pub fn layer_from_env(store: Arc<dyn SessionProtocol>) -> SessionLayer {
    let mut layer = SessionLayer::new(store);
    if let Some(d) = env_secs("SESSION_IDLE_SECS") {
        layer = layer.with_idle_timeout(d);
    }
    if let Some(d) = env_secs("SESSION_ABSOLUTE_SECS") {
        layer = layer.with_absolute_timeout(d);
    }
    match env_secs("SESSION_ROTATE_SECS") {
        Some(d) if d.is_zero() => layer = layer.without_rotation(),
        Some(d) => layer = layer.with_rotation_interval(d),
        None => {}
    }
    if let Some(d) = env_secs("SESSION_GRACE_SECS") {
        layer = layer.with_rotation_grace(d);
    }
    for (var, ip) in [("SESSION_BIND_IP", true), ("SESSION_BIND_UA", false)] {
        if let Ok(raw) = std::env::var(var) {
            match raw.parse::<axum_user_sessions::BindingMode>() {
                Ok(mode) if ip => layer = layer.with_ip_binding(mode),
                Ok(mode) => layer = layer.with_user_agent_binding(mode),
                Err(e) => eprintln!("{var}: {e}; ignored"),
            }
        }
    }
    if let Ok(raw) = std::env::var("TRUSTED_PROXIES") {
        let mut nets = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            // A bare address is a one-address network.
            let parsed = part
                .parse::<axum_user_sessions::ipnet::IpNet>()
                .or_else(|_| {
                    part.parse::<std::net::IpAddr>()
                        .map(axum_user_sessions::ipnet::IpNet::from)
                });
            match parsed {
                Ok(net) => nets.push(net),
                Err(_) => {
                    eprintln!("TRUSTED_PROXIES: {part:?} is not a CIDR or an address; ignored")
                }
            }
        }
        layer = layer.with_trusted_proxies(nets);
    }
    let flag = |name: &str| std::env::var(name).is_ok_and(|v| v.trim() == "1");
    layer = layer
        .with_ip_anonymization(flag("SESSION_ANONYMIZE_IP"))
        .with_session_ids_in_tokens(flag("SESSION_IDS_IN_TOKENS"));
    let number = |name: &str| {
        let raw = std::env::var(name).ok()?;
        let parsed = raw.trim().parse::<u32>().ok();
        if parsed.is_none() {
            eprintln!("{name}={raw:?} is not a number; ignored");
        }
        parsed
    };
    if let Some(bytes) = number("SESSION_MAX_DATA_BYTES") {
        layer = layer.with_max_data_size(bytes as usize);
    }
    if let Some(n) = number("SESSION_MAX_PER_USER") {
        layer = layer.with_max_sessions_per_user(n);
    }
    if super::api::enabled() {
        layer = layer.with_bearer_tokens(true);
    }
    if flag("SESSION_CACHE") {
        layer = with_cache(layer);
    }
    // Every session event, as one JSON line on stdout.
    layer = layer.with_events(|e: &axum_user_sessions::SessionEvent| {
        if let Ok(line) = serde_json::to_string(e) {
            println!("event {line}");
        }
    });
    let secure = flag("SESSION_COOKIE_SECURE");
    if !secure {
        tracing::warn!(
            "SESSION_COOKIE_SECURE is not 1: cookies are sent without `Secure` and without the \
             `__Host-` prefix so that the demo works over plain http; set it to 1 behind https"
        );
        layer = layer.with_secure(false);
    }
    layer
}

/// Opens the store named by `DATABASE_URL` (default: a SQLite file here),
/// or without it by `REDIS_CLUSTER_NODES` or `REDIS_URL`, and migrates it.
pub async fn store_from_env() -> Result<Arc<dyn SessionProtocol>, Box<dyn std::error::Error>> {
    Ok(Arc::new(Protocol::new(storage_from_env().await?)))
}

/// The storage [`store_from_env`] puts under the protocol, migrated (to
/// count its calls first, as the soak test does).
pub async fn storage_from_env() -> Result<Arc<dyn SessionStore>, Box<dyn std::error::Error>> {
    let storage = match redis_from_env().await? {
        Some(storage) => storage,
        None => axum_user_sessions::store::connect_storage(&database_url()?).await?,
    };
    storage.migrate().await?;
    Ok(storage)
}

/// `DATABASE_URL`, or the SQLite file here.
pub(crate) fn database_url() -> Result<String, Box<dyn std::error::Error>> {
    Ok(match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let path = std::env::current_dir()?.join("axum-user-sessions-demo.db");
            let on_redis = ["REDIS_URL", "REDIS_CLUSTER_NODES"]
                .iter()
                .any(|v| std::env::var(v).is_ok_and(|v| !v.trim().is_empty()));
            if on_redis {
                return Ok(format!("sqlite://{}", path.display()));
            }
            tracing::info!(
                "DATABASE_URL is not set: sessions go to the SQLite file {} (they survive a restart)",
                path.display()
            );
            format!("sqlite://{}", path.display())
        }
    })
}

/// Without `DATABASE_URL`: a Redis Cluster (`REDIS_CLUSTER_NODES`,
/// `host:port,host:port,…`) or one Redis node (`REDIS_URL`,
/// `redis://host:port`), feature `redis`.
async fn redis_from_env() -> Result<Option<Arc<dyn SessionStore>>, Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if var("DATABASE_URL").is_some() {
        return Ok(None);
    }
    let (cluster, node) = (var("REDIS_CLUSTER_NODES"), var("REDIS_URL"));
    if cluster.is_none() && node.is_none() {
        return Ok(None);
    }
    #[cfg(feature = "redis")]
    {
        use axum_user_sessions::store::RedisStore;
        let store = match (cluster, node) {
            (Some(nodes), _) => RedisStore::cluster(nodes.split(',').map(str::trim)).await?,
            (None, Some(url)) => RedisStore::connect(&url).await?,
            (None, None) => unreachable!("one of them is set"),
        };
        tracing::info!(
            "sessions go to Redis ({} replica(s) acknowledge a revocation)",
            store.min_replicas()
        );
        Ok(Some(Arc::new(store.storage().clone())))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (cluster, node);
        eprintln!(
            "demo: REDIS_URL or REDIS_CLUSTER_NODES needs the `redis` feature, which this build \
             left out (build with --features redis, or unset them)"
        );
        std::process::exit(2)
    }
}

/// `SESSION_CACHE=1`: the in-process cache.
#[cfg(feature = "cache")]
fn with_cache(layer: SessionLayer) -> SessionLayer {
    layer.with_cache(axum_user_sessions::CacheConfig::default())
}

/// `SESSION_CACHE=1` without the `cache` feature: refused, loudly.
#[cfg(not(feature = "cache"))]
fn with_cache(_layer: SessionLayer) -> SessionLayer {
    eprintln!(
        "demo: SESSION_CACHE=1 needs the `cache` feature, which this build left out \
         (build with --features cache, or unset SESSION_CACHE)"
    );
    std::process::exit(2)
}
