//! [`DeviceRecords`](crate::store::DeviceRecords) on Postgres: the table
//! `axum_user_sessions.user_devices`, one statement per call.

use super::{PgStorage, Query};
use crate::store::error::Error;

crate::store::sql::devices::impl_device_records!(
    PgStorage,
    query = Query,
    table = "axum_user_sessions.user_devices",
    p = ["$1", "$2", "$3", "$4", "$5", "$6"]
);
