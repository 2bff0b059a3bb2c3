//! The Markdown report: one table of every variant and scenario, the
//! two-instance scenario, the token rows, the targets, the top statements.

use crate::instances::TwoInstances;
use crate::load::Run;
use crate::pg::Window;
use std::time::Duration;

/// The variants, in the order they run and print.
pub(crate) const BASELINE: &str = "no session layer";
pub(crate) const FLOOR: &str = "raw SQL floor";
pub(crate) const PLAIN: &str = "ours, no cache";
pub(crate) const CACHED: &str = "ours, cache";

/// The scenarios.
pub(crate) const READ: &str = "read";
pub(crate) const WRITE_ONE: &str = "write, 1 session";
pub(crate) const WRITE_MANY: &str = "write, a session per client";
pub(crate) const NEW: &str = "new session";

/// One measured run.
pub(crate) struct Row {
    pub(crate) scenario: &'static str,
    pub(crate) variant: &'static str,
    pub(crate) run: Run,
    pub(crate) db: Window,
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn find<'a>(rows: &'a [Row], scenario: &str, variant: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.scenario == scenario && r.variant == variant)
}

/// `scenario`'s `variant` in req/s relative to `to`'s.
fn ratio(rows: &[Row], scenario: &str, variant: &str, to: &str) -> f64 {
    match (find(rows, scenario, variant), find(rows, scenario, to)) {
        (Some(a), Some(b)) if b.run.rps > 0.0 => a.run.rps / b.run.rps,
        _ => f64::NAN,
    }
}

fn per(n: i64, r: &Run) -> f64 {
    n as f64 / r.requests.max(1) as f64
}

/// The share of updated rows updated in place (HOT), or `-`.
fn hot(db: &Window) -> String {
    if db.updates == 0 {
        return "-".into();
    }
    format!("{:.0}%", 100.0 * db.hot_updates as f64 / db.updates as f64)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

pub(crate) fn print(
    header: &[String], rows: &[Row], two: &TwoInstances, token_rows: (i64, bool), rotations: usize,
) {
    println!();
    for line in header {
        println!("{line}  ");
    }
    println!();
    println!(
        "| scenario | variant | req/s | × floor | × no session | p50 ms | p99 ms | statements/req | transactions/req | WAL flushes/req | WAL bytes/req | feed polls/req | HOT updates | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.3} | {} | {} |",
            r.scenario,
            r.variant,
            r.run.rps,
            ratio(rows, r.scenario, r.variant, FLOOR),
            ratio(rows, r.scenario, r.variant, BASELINE),
            ms(r.run.p50),
            ms(r.run.p99),
            per(r.db.statements, &r.run),
            per(r.db.commits, &r.run),
            per(r.db.wal_syncs, &r.run),
            per(r.db.wal_bytes, &r.run),
            per(r.db.feed_polls, &r.run),
            hot(&r.db),
            r.run.errors
        );
    }
    println!();
    println!(
        "| two instances (cache on both) | writes/s on A+B | write errors | revocations | B served from cache before | p50 ms | p99 ms | max ms | not refused within 5 s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| revocation on A until B refuses | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
        two.write_rps,
        two.write_errors,
        two.delays.len() + two.never,
        two.cached_before,
        ms(two.p(0.50)),
        ms(two.p(0.99)),
        ms(two.p(1.0)),
        two.never
    );
    println!();
    println!(
        "Token rows of one session after {rotations} rotations (`Session::rotate`): {} (last cookie {})",
        token_rows.0,
        if token_rows.1 { "works" } else { "REFUSED" }
    );
    println!();
    println!("{}", targets(rows, two, token_rows.0));
    println!();
    println!("Top statements (calls per request, mean execution ms):");
    for r in rows.iter().filter(|r| r.variant != BASELINE) {
        let top: Vec<String> =
            r.db.top
                .iter()
                .map(|(q, calls, mean)| {
                    let q: String = q.chars().take(90).collect();
                    format!("{:.2}× {mean:.3} ms `{q}`", per(*calls, &r.run))
                })
                .collect();
        println!("- {} / {}: {}", r.scenario, r.variant, top.join("; "));
    }
}

/// The targets, each with PASS or MISS.
fn targets(rows: &[Row], two: &TwoInstances, token_rows: i64) -> String {
    let statements = |scenario, variant| {
        find(rows, scenario, variant).map_or(f64::NAN, |r| per(r.db.statements, &r.run))
    };
    let cached_write = ratio(rows, WRITE_MANY, CACHED, FLOOR);
    let cached_statements = statements(WRITE_MANY, CACHED);
    let plain_write = ratio(rows, WRITE_MANY, PLAIN, FLOOR);
    let new_plain = ratio(rows, NEW, PLAIN, FLOOR);
    let new_cached = ratio(rows, NEW, CACHED, FLOOR);
    let cached_read = ratio(rows, READ, CACHED, BASELINE);
    let p99 = two.p(0.99);
    let revocation_ok = two.never == 0 && p99 < Duration::from_millis(50);
    [
        format!(
            "cached write {cached_write:.2}× floor UPDATE at {cached_statements:.2} statements/req (≥ 0.9×, ≤ 1.0): {}",
            verdict(cached_write >= 0.9 && cached_statements <= 1.0)
        ),
        format!(
            "uncached write {plain_write:.2}× floor (≥ 0.55×): {}",
            verdict(plain_write >= 0.55)
        ),
        format!(
            "new {new_plain:.2}× (no cache) / {new_cached:.2}× (cache) floor INSERT (≥ 0.9×): {}",
            verdict(new_plain >= 0.9 && new_cached >= 0.9)
        ),
        format!(
            "cached read {cached_read:.2}× no session (≥ 0.9×): {}",
            verdict(cached_read >= 0.9)
        ),
        format!(
            "revocation p99 {} ms (< 50 ms): {}",
            ms(p99),
            verdict(revocation_ok)
        ),
        format!(
            "{token_rows} token rows (≤ 8): {}",
            verdict(token_rows <= 8)
        ),
    ]
    .iter()
    .fold("Targets (writes: a session per client):".to_owned(), |acc, t| {
        format!("{acc}\n- {t}")
    })
}
