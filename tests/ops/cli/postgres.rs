//! The tool against a real Postgres: list and stats, revocations, garbage
//! collection.

use super::*;

#[sqlx::test(migrations = false)]
async fn postgres_list_and_stats(pool: sqlx::PgPool) {
    let url = pg_url(&pool);
    let store = migrated(&url).await;
    let s = store.as_ref();
    let hour = time::Duration::hours(1);
    let a1 = session(s, 1, "alice", hour, |r| {
        r.user_agent = Some(FIREFOX.into());
        r.ip = Some("203.0.113.7".parse().unwrap());
    })
    .await;
    let a2 = session(s, 2, "alice", hour, |r| {
        r.persistent = true;
        r.absolute_expires_at = r.expires_at + time::Duration::days(30);
    })
    .await;
    let b1 = session(s, 3, "bob", hour, |_| {}).await;
    let _expired = session(s, 4, "alice", -hour, |_| {}).await;

    // The table: a header, one aligned row per live session, no secrets.
    let table = ok(&url, &["list", "--user", "alice"]).await;
    let lines: Vec<&str> = table.lines().collect();
    let header = lines[0];
    for col in [
        "ID",
        "DEVICE",
        "IP",
        "CREATED",
        "LAST SEEN",
        "EXPIRES",
        "REMEMBERED",
    ] {
        assert!(header.contains(col), "no {col} column: {table}");
    }
    let device_col = header.find("DEVICE").unwrap();
    let rows: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .filter(|l| l.len() >= 36 && Uuid::parse_str(&l[..36]).is_ok())
        .collect();
    assert_eq!(rows.len(), 2, "expected two live sessions: {table}");
    for row in &rows {
        assert_eq!(
            row[device_col - 2..device_col].trim(),
            "",
            "columns not aligned: {table}"
        );
    }
    assert!(table.contains(&a1.id.to_string()), "{table}");
    assert!(table.contains(&a2.id.to_string()), "{table}");
    assert!(
        !table.contains(&b1.id.to_string()),
        "bob's session: {table}"
    );
    assert!(table.contains("Firefox on Linux"), "{table}");
    assert!(table.contains("203.0.113.7"), "{table}");
    let remembered_col = header.find("REMEMBERED").unwrap();
    let a2_row = rows
        .iter()
        .find(|r| r.starts_with(&a2.id.to_string()))
        .unwrap();
    assert_eq!(a2_row[remembered_col..].trim(), "yes", "{table}");
    for n in 1..=4u8 {
        let hex: String = hash(n)
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!table.contains(&hex), "a token hash was printed: {table}");
    }

    // JSON: exactly the documented fields, RFC 3339 times.
    let json = ok(&url, &["list", "--user", "alice", "--json"]).await;
    assert_eq!(ids(&json), id_set(&[&a1, &a2]), "{json}");
    let v: Value = serde_json::from_str(&json).unwrap();
    for d in v.as_array().unwrap() {
        let keys: BTreeSet<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "id",
                "device",
                "ip",
                "created_at",
                "last_seen_at",
                "expires_at",
                "persistent",
                "last_ip",
                "location",
                "sign_in_method",
                "second_factor",
                "api_client"
            ]),
            "{json}"
        );
        let at = |k: &str| OffsetDateTime::parse(d[k].as_str().unwrap(), &Rfc3339).unwrap();
        let (r, device, ip) = if d["id"] == a1.id.to_string() {
            (&a1, "Firefox on Linux", Value::from("203.0.113.7"))
        } else {
            (&a2, "Unknown device", Value::Null)
        };
        assert_eq!(d["device"], device, "{json}");
        assert_eq!(d["ip"], ip, "{json}");
        assert_eq!(
            d["last_ip"], ip,
            "{json}: a new session was last seen where it began"
        );
        assert_eq!(d["persistent"], r.persistent, "{json}");
        assert_eq!(at("created_at"), r.created_at, "{json}");
        assert_eq!(at("last_seen_at"), r.last_seen_at, "{json}");
        // A remembered device lives until its absolute end.
        let expires = if r.persistent {
            r.absolute_expires_at
        } else {
            r.expires_at
        };
        assert_eq!(at("expires_at"), expires, "{json}");
    }

    let none = ok(&url, &["list", "--user", "nobody", "--json"]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&none).unwrap(),
        Value::Array(vec![])
    );
    let none = ok(&url, &["list", "--user", "nobody"]).await;
    assert!(none.contains("No live sessions"), "{none}");

    // 3 live sessions of 2 users; the expired row waits for gc.
    let stats = ok(&url, &["stats", "--json"]).await;
    assert_eq!(stats_json(&stats), (3, 2, 1), "{stats}");
    let text = ok(&url, &["stats"]).await;
    assert!(text.contains("Active sessions:  3"), "{text}");
}

#[sqlx::test(migrations = false)]
async fn postgres_revoke(pool: sqlx::PgPool) {
    let url = pg_url(&pool);
    let store = migrated(&url).await;
    let s = store.as_ref();
    let hour = time::Duration::hours(1);
    let a1 = session(s, 1, "alice", hour, |_| {}).await;
    let a2 = session(s, 2, "alice", hour, |_| {}).await;
    let a3 = session(s, 3, "alice", hour, |_| {}).await;
    let a4 = session(s, 4, "alice", hour, |_| {}).await;
    let b1 = session(s, 5, "bob", hour, |_| {}).await;
    let c1 = session(s, 6, "carol", hour, |_| {}).await;

    // One session, recording who and why.
    let id = a1.id.to_string();
    let args = [
        "revoke",
        "--session",
        &id,
        "--reason",
        "lost phone",
        "--by",
        "ops",
    ];
    let out = ok(&url, &args).await;
    assert!(out.contains("Revoked 1 session"), "{out}");
    let r = s.get(a1.id).await.unwrap().unwrap();
    assert!(r.revoked_at.is_some());
    assert_eq!(r.revoke_reason.as_deref(), Some("lost phone"));
    assert_eq!(r.revoked_by.as_deref(), Some("ops"));
    // Again: not found, and says why.
    let again = cli(Some(&url), &args).await;
    assert_error(&again, 1, "already revoked");
    assert!(again.stderr.contains("lost phone"), "{again:?}");
    assert_eq!(again.stderr.lines().count(), 1, "{again:?}");
    // Unknown id.
    let unknown = Uuid::new_v4().to_string();
    let run = cli(Some(&url), &["revoke", "--session", &unknown]).await;
    assert_error(&run, 1, "no session with id");

    // A user's sessions but one, then the rest; defaults for who and why.
    let keep = a4.id.to_string();
    let out = ok(&url, &["revoke", "--user", "alice", "--keep", &keep]).await;
    assert!(out.contains("Revoked 2 sessions"), "{out}");
    let r = s.get(a2.id).await.unwrap().unwrap();
    assert_eq!(r.revoke_reason.as_deref(), Some("admin"));
    assert_eq!(r.revoked_by.as_deref(), Some("cli"));
    assert!(s.get(a3.id).await.unwrap().unwrap().revoked_at.is_some());
    let left = ok(&url, &["list", "--user", "alice", "--json"]).await;
    assert_eq!(ids(&left), id_set(&[&a4]), "{left}");
    let out = ok(&url, &["revoke", "--user", "alice"]).await;
    assert!(out.contains("Revoked 1 session "), "{out}");
    let out = ok(&url, &["revoke", "--user", "alice"]).await;
    assert!(out.contains("Revoked 0 sessions"), "{out}");

    // Everyone: refused without a terminal or --yes, and nothing revoked.
    let run = cli(Some(&url), &["revoke", "--all"]).await;
    assert_ne!(run.code, 0, "{run:?}");
    assert_error(&run, 2, "--yes");
    let bob = ok(&url, &["list", "--user", "bob", "--json"]).await;
    assert_eq!(
        ids(&bob),
        id_set(&[&b1]),
        "revoke --all without --yes revoked"
    );
    let out = ok(&url, &["revoke", "--all", "--yes", "--reason", "breach"]).await;
    assert!(out.contains("Revoked 2 sessions"), "{out}");
    let r = s.get(c1.id).await.unwrap().unwrap();
    assert_eq!(r.revoke_reason.as_deref(), Some("breach"));
    let stats = ok(&url, &["stats", "--json"]).await;
    assert_eq!(stats_json(&stats).0, 0, "{stats}");

    // Exactly one target.
    let run = cli(Some(&url), &["revoke", "--user", "bob", "--all"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    let run = cli(Some(&url), &["revoke"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    let run = cli(Some(&url), &["revoke", "--keep", &keep]).await;
    assert_eq!(run.code, 2, "--keep without --user: {run:?}");
}

#[sqlx::test(migrations = false)]
async fn postgres_gc(pool: sqlx::PgPool) {
    let url = pg_url(&pool);
    let store = migrated(&url).await;
    let s = store.as_ref();
    let hour = time::Duration::hours(1);
    let live = session(s, 1, "alice", hour, |_| {}).await;
    let mut expired = Vec::new();
    for n in 2..=6 {
        expired.push(session(s, n, "alice", -hour, |_| {}).await);
    }
    let revoked = session(s, 7, "bob", hour, |_| {}).await;
    let id = revoked.id.to_string();
    ok(&url, &["revoke", "--session", &id]).await;

    let stats = ok(&url, &["stats", "--json"]).await;
    assert_eq!(stats_json(&stats), (1, 1, 5), "{stats}");

    // Expired rows go at once, in batches; revoked ones are kept 30 days.
    let out = ok(&url, &["gc", "--batch-size", "2"]).await;
    assert!(out.contains("Deleted 5 rows in 3 batches"), "{out}");
    for r in &expired {
        assert!(s.get(r.id).await.unwrap().is_none(), "not collected: {out}");
    }
    assert!(s.get(live.id).await.unwrap().is_some(), "a live row went");
    assert!(s.get(revoked.id).await.unwrap().is_some(), "kept for audit");

    let out = ok(&url, &["gc"]).await;
    assert!(out.contains("Deleted 0 rows"), "{out}");
    let out = ok(&url, &["gc", "--retention-days", "0"]).await;
    assert!(out.contains("Deleted 1 row "), "{out}");
    assert!(s.get(revoked.id).await.unwrap().is_none());
    assert!(s.get(live.id).await.unwrap().is_some());
    let stats = ok(&url, &["stats", "--json"]).await;
    assert_eq!(stats_json(&stats), (1, 1, 0), "{stats}");

    let run = cli(Some(&url), &["gc", "--batch-size", "0"]).await;
    assert_eq!(run.code, 2, "{run:?}");
}

/// A command that Postgres rolls back to let another transaction go on (a
/// deadlock) exits 3, worth running again, and says so: the database was
/// there, so "unreachable" would send an operator to the network.
#[sqlx::test(migrations = false)]
async fn postgres_a_deadlock_says_run_it_again(pool: sqlx::PgPool) {
    let url = pg_url(&pool);
    let store = migrated(&url).await;
    let a = session(store.as_ref(), 1, "alice", time::Duration::hours(1), |_| {}).await;
    // Every revocation meets a deadlock, as Postgres reports one.
    for statement in [
        "CREATE FUNCTION axum_user_sessions.lose() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$",
        "CREATE TRIGGER lose BEFORE UPDATE ON axum_user_sessions.sessions \
         FOR EACH ROW EXECUTE FUNCTION axum_user_sessions.lose()",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    let run = cli(Some(&url), &["revoke", "--user", "alice"]).await;
    assert_error(&run, 3, "rolled the command's transaction back");
    assert!(run.stderr.contains("run it again"), "{run:?}");
    assert!(!run.stderr.contains("unreachable"), "{run:?}");
    let row = store.get(a.id).await.unwrap().unwrap();
    assert_eq!(
        row.revoked_at, None,
        "the rolled-back revocation changed nothing"
    );
}
