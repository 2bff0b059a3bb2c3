//! [`DeviceRecords`](crate::store::DeviceRecords) on SQLite: the table
//! `aus_user_devices`, one statement per call.

use super::{Query, SqliteStorage};
use crate::store::error::Error;

crate::store::sql::devices::impl_device_records!(
    SqliteStorage,
    query = Query,
    table = "aus_user_devices",
    p = ["?1", "?2", "?3", "?4", "?5", "?6"]
);
