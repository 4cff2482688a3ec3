//! The policy decision a task records (`pol_decision`, ECT-CLM-13), on its own at the bottom of
//! the crate: the claims carry it and the DAG errors name it (ECT-DAG-6).

/// The value of `pol_decision` (ECT-CLM-13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyDecision {
    /// `approved`.
    Approved,
    /// `rejected`.
    Rejected,
    /// `pending_human_review`.
    PendingHumanReview,
}

impl PolicyDecision {
    /// The claim value, e.g. `"pending_human_review"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyDecision::Approved => "approved",
            PolicyDecision::Rejected => "rejected",
            PolicyDecision::PendingHumanReview => "pending_human_review",
        }
    }

    /// Parses the exact claim value.
    pub fn parse(value: &str) -> Option<Self> {
        [
            PolicyDecision::Approved,
            PolicyDecision::Rejected,
            PolicyDecision::PendingHumanReview,
        ]
        .into_iter()
        .find(|d| d.as_str() == value)
    }
}
