//! What the tool prints: the sessions table, human times, JSON.

use axum_user_sessions::{DeviceView, Error};
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// A session as `list --json` prints it: the [`DeviceView`] the routes show,
/// without `current` (a command line has no session of its own).
#[derive(Debug, Serialize)]
struct Listed<'a> {
    id: Uuid,
    device: &'a str,
    ip: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    persistent: bool,
    last_ip: Option<&'a str>,
    location: Option<&'a str>,
    sign_in_method: Option<&'a str>,
    second_factor: bool,
    api_client: bool,
}

impl<'a> From<&'a DeviceView> for Listed<'a> {
    fn from(d: &'a DeviceView) -> Self {
        Self {
            id: d.id,
            device: &d.device,
            ip: d.ip.as_deref(),
            created_at: d.created_at,
            last_seen_at: d.last_seen_at,
            expires_at: d.expires_at,
            persistent: d.persistent,
            last_ip: d.last_ip.as_deref(),
            location: d.location.as_deref(),
            sign_in_method: d.sign_in_method.as_deref(),
            second_factor: d.second_factor,
            api_client: d.api_client,
        }
    }
}

/// `list --json`: a JSON array, pretty-printed, with a final newline.
pub(crate) fn devices_json(devices: &[DeviceView]) -> Result<String, Error> {
    let listed: Vec<Listed<'_>> = devices.iter().map(Listed::from).collect();
    json(&listed)
}

/// `list`: a table of `user`'s sessions and a count, or a line saying there
/// are none.
pub(crate) fn devices_table(user: &str, devices: &[DeviceView]) -> String {
    if devices.is_empty() {
        return format!("No live sessions for user {user}.\n");
    }
    let header = [
        "ID",
        "DEVICE",
        "IP",
        "CREATED",
        "LAST SEEN",
        "EXPIRES",
        "REMEMBERED",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 7]> = devices
        .iter()
        .map(|d| {
            [
                d.id.to_string(),
                d.device.clone(),
                d.ip.clone().unwrap_or_else(|| "-".into()),
                human_time(d.created_at),
                human_time(d.last_seen_at),
                human_time(d.expires_at),
                if d.persistent { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    let mut out = table(&header, &rows);
    out.push_str(&format!(
        "{} live session{} for user {user} (times in UTC).\n",
        rows.len(),
        plural(rows.len() as u64),
    ));
    out
}

/// Pretty-printed JSON with a final newline.
pub(crate) fn json(value: &impl Serialize) -> Result<String, Error> {
    let mut json = serde_json::to_string_pretty(value)?;
    json.push('\n');
    Ok(json)
}

/// Left-aligned columns two spaces apart.
fn table<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < N {
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `2026-11-23 10:42` (UTC).
pub(crate) fn human_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `"s"` unless `n` is 1.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_trim() {
        let header = ["A", "BB"].map(str::to_owned);
        let rows = [["ccc", ""].map(str::to_owned)];
        assert_eq!(table(&header, &rows), "A    BB\nccc\n");
    }

    #[test]
    fn times_are_utc_minutes() {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(90);
        assert_eq!(human_time(t), "1970-01-01 00:01");
    }
}
