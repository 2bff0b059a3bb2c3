use super::*;

fn client(n: u8) -> ClientInfo {
    ClientInfo {
        ip: Some([192, 0, 2, n].into()),
        user_agent: None,
    }
}

#[test]
fn one_writer_per_user_takes_what_waited() {
    let q = FailedQueue::default();
    let now = OffsetDateTime::now_utc();
    assert_eq!(q.push("carol", now, client(1)), Pushed::Start);
    assert_eq!(q.push("carol", now, client(2)), Pushed::Joined);
    assert_eq!(q.push("dave", now, client(3)), Pushed::Start);
    let batch = q.take("carol").expect("two wait");
    assert_eq!(batch.attempts.len(), 2);
    // The writer still runs: a new attempt joins it, and it takes that too.
    assert_eq!(q.push("carol", now, client(4)), Pushed::Joined);
    assert_eq!(q.take("carol").map(|b| b.attempts.len()), Some(1));
    assert!(q.take("carol").is_none());
    // Nothing waited: the entry went with it, and the next attempt starts
    // a writer again.
    assert_eq!(q.len(), 1);
    assert_eq!(q.push("carol", now, client(5)), Pushed::Start);
}

#[test]
fn a_flood_of_one_user_is_counted_and_leaves_room_for_others() {
    let q = FailedQueue::default();
    let now = OffsetDateTime::now_utc();
    for i in 0..1000 {
        let pushed = q.push("carol", now + time::Duration::seconds(i), client(1));
        assert_ne!(pushed, Pushed::Full);
    }
    for u in 1..USERS_WAITING {
        assert_eq!(q.push(&format!("user{u}"), now, client(2)), Pushed::Start);
    }
    assert_eq!(q.push("one too many", now, client(3)), Pushed::Full);
    assert_eq!(q.push("carol", now, client(1)), Pushed::Joined);
    let batch = q.take("carol").unwrap();
    assert_eq!(batch.attempts.len(), CLIENTS_WAITING);
    assert_eq!(batch.more, 1001 - CLIENTS_WAITING as u64);
    assert_eq!(batch.more_last_at, Some(now + time::Duration::seconds(999)));
}

#[test]
fn a_writer_that_stops_early_leaves_no_entry_behind() {
    let q = FailedQueue::default();
    let now = OffsetDateTime::now_utc();
    let writer = |done| Writer {
        queue: q.clone(),
        user: "carol".into(),
        done,
    };
    assert_eq!(q.push("carol", now, client(1)), Pushed::Start);
    // Its task never ran (a runtime shutting down), was cancelled, or
    // panicked: later attempts start a new writer rather than join an
    // entry nobody writes.
    let never_run = writer(false).run(SessionAdmin::new(crate::store::MemoryStore::new()));
    drop(never_run);
    assert_eq!(q.len(), 0);
    // Done: it removed the entry itself, and leaves a newer one alone.
    assert_eq!(q.push("carol", now, client(1)), Pushed::Start);
    drop(writer(true));
    assert_eq!(q.len(), 1);
}
