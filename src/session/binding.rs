//! The client binding, applied when a request loads its session: a
//! mismatch is logged, refused, or revokes the session, as configured
//! ([`binding`](crate::binding)).

use super::Session;
use crate::binding::{BindingCheck, MismatchAction};
use crate::error::Error;
use crate::events::SessionEventKind;
use crate::store::{Revocation, RevokeReason, RevokeScope, SessionRecord};
use std::sync::Arc;
use time::OffsetDateTime;

impl Session {
    /// Applies the client binding; `None` when the session may not be used.
    pub(super) async fn check_binding(
        &self, record: Arc<SessionRecord>, now: OffsetDateTime,
    ) -> Result<Option<Arc<SessionRecord>>, Error> {
        match self.config().binding.check(&record, &self.inner.client) {
            BindingCheck::Accept => Ok(Some(record)),
            BindingCheck::Log(what) => {
                let kind = SessionEventKind::BindingMismatch {
                    check: what,
                    enforced: false,
                };
                self.emit(kind, &record);
                Ok(Some(record))
            }
            BindingCheck::Reject(what) => {
                let revoke = self.config().mismatch_action == MismatchAction::Revoke;
                let kind = SessionEventKind::BindingMismatch {
                    check: what,
                    enforced: true,
                };
                self.emit(kind, &record);
                if revoke {
                    let how = Revocation::system(RevokeReason::BindingMismatch, now);
                    self.store()
                        .revoke(&RevokeScope::session(record.id), &how)
                        .await?;
                }
                self.state().binding_rejected = !revoke;
                Ok(None)
            }
        }
    }
}
