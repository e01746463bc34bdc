//! Who may do what: the lowest role each operation of the registry needs,
//! stated once. Every door (the native API, the MLflow API, the web UI)
//! names the operation it serves, never a role; the domain's finer rules
//! (the lifecycle policy's rules and gates, guarded aliases, the last
//! admin) apply after this check.

use crate::db::enums::Role;

/// An operation a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read models, versions, requests, the feed, the policy and the audit's state.
    Read,
    /// Register a model.
    RegisterModel,
    /// Rename a model, set its description or its tags.
    EditModel,
    /// Delete a model with its versions.
    DeleteModel,
    /// Register a version.
    RegisterVersion,
    /// Set a version's description or its tags.
    EditVersion,
    /// Delete a version.
    DeleteVersion,
    /// Move a version to another stage: any reader may ask; the policy's
    /// rule for the move decides.
    MoveStage,
    /// Set, move or delete an alias (a guarded alias's rule decides further).
    SetAlias,
    /// Open a transition request.
    OpenRequest,
    /// Approve or reject someone else's request.
    DecideRequest,
    /// Cancel one's own request.
    CancelRequest,
    /// Cancel anyone's request.
    CancelAnyRequest,
    /// See the user directory, the tokens and the subscriptions in the feed.
    ReadIdentity,
    /// Walk and verify the whole chain (the audit page).
    VerifyChain,
    /// Create, change and delete users.
    ManageUsers,
    /// Issue, list and revoke pipeline tokens.
    ManageTokens,
    /// Create, change, test and delete webhook subscriptions.
    ManageWebhooks,
}

impl Op {
    /// The lowest role that may do it.
    pub const fn role(self) -> Role {
        match self {
            Op::Read | Op::MoveStage => Role::Viewer,
            Op::RegisterModel
            | Op::EditModel
            | Op::RegisterVersion
            | Op::EditVersion
            | Op::SetAlias
            | Op::OpenRequest
            | Op::CancelRequest => Role::Contributor,
            Op::DecideRequest => Role::Approver,
            Op::DeleteModel
            | Op::DeleteVersion
            | Op::CancelAnyRequest
            | Op::ReadIdentity
            | Op::VerifyChain
            | Op::ManageUsers
            | Op::ManageTokens
            | Op::ManageWebhooks => Role::Admin,
        }
    }

    /// Whether a caller of `role` may do it.
    pub fn allowed(self, role: Role) -> bool {
        role.reaches(self.role())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_needs_the_role_the_docs_name() {
        use Op::*;
        let table = [
            (Read, Role::Viewer),
            (MoveStage, Role::Viewer),
            (RegisterModel, Role::Contributor),
            (EditModel, Role::Contributor),
            (RegisterVersion, Role::Contributor),
            (EditVersion, Role::Contributor),
            (SetAlias, Role::Contributor),
            (OpenRequest, Role::Contributor),
            (CancelRequest, Role::Contributor),
            (DecideRequest, Role::Approver),
            (DeleteModel, Role::Admin),
            (DeleteVersion, Role::Admin),
            (CancelAnyRequest, Role::Admin),
            (ReadIdentity, Role::Admin),
            (VerifyChain, Role::Admin),
            (ManageUsers, Role::Admin),
            (ManageTokens, Role::Admin),
            (ManageWebhooks, Role::Admin),
        ];
        for (op, role) in table {
            assert_eq!(op.role(), role, "{op:?}");
            assert!(op.allowed(role) && op.allowed(Role::Admin), "{op:?}");
        }
        assert!(!DecideRequest.allowed(Role::Contributor));
        assert!(!RegisterModel.allowed(Role::Viewer));
    }
}
