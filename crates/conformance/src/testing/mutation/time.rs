//! SPEC.md §6, time and audience: the cases of ECT-TIME-1 (`Mutation::ExpBeforeIat`),
//! ECT-TIME-2 (`Expired`), ECT-TIME-3 (`NotYetValid`), ECT-TIME-4 (`TooOld`), ECT-TIME-6
//! (`NotBefore`) and ECT-AUD-1 (`AudienceMismatch`). ECT-TIME-5, the NumericDate syntax, is in
//! `claims`; ECT-RPL-1 in `replay`.

use super::{Mutator, OTHER_AUDIENCE};
use crate::testing::{AUDIENCE, NOW, Stage};
use wimse_ect::Audience;

impl Mutator {
    /// The verifier's leeway and maximum `iat` age.
    fn time_limits(&self) -> (u64, u64) {
        (
            self.wf.policy.leeway_seconds,
            self.wf.policy.max_iat_age_seconds,
        )
    }

    pub(super) fn exp_before_iat(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            // now - leeway < exp <= iat <= now + leeway needs leeway >= 1; raising the leeway
            // only relaxes the earlier tokens' checks.
            let leeway = this.wf.policy.leeway_seconds.max(1);
            this.wf.policy.leeway_seconds = leeway;
            // iat only moves up, which keeps the skew rule with every parent.
            let iat = this.wf.steps[t].claims.iat.max(NOW - leeway + 1);
            let room = iat - (NOW - leeway + 1);
            let below = if this.rng.below(2) == 0 {
                0
            } else {
                this.rng.next() % (room + 1)
            };
            let exp = iat - below;
            let claims = &mut this.wf.steps[t].claims;
            claims.iat = iat;
            claims.exp = exp;
            format!("iat {iat}, exp {exp}, leeway {leeway}")
        })
    }

    pub(super) fn expired(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let (leeway, max_age) = this.time_limits();
            let iat = this.wf.steps[t].claims.iat;
            // now - iat <= max_age (max_age >= leeway + 2) and iat < exp <= now - leeway.
            let now = NOW.max(iat + 1 + leeway);
            let latest = now - leeway;
            let exp = if this.rng.below(2) == 0 {
                latest
            } else {
                iat + 1 + this.rng.next() % (latest - iat)
            };
            debug_assert!(now - iat <= max_age);
            let step = &mut this.wf.steps[t];
            step.now = now;
            step.claims.exp = exp;
            format!("now {now}, exp {exp}, leeway {leeway}")
        })
    }

    pub(super) fn not_yet_valid(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let iat = NOW + this.wf.policy.leeway_seconds + 1 + this.rng.next() % 3;
            let claims = &mut this.wf.steps[t].claims;
            // iat moves up only (the skew rule still holds).
            claims.iat = claims.iat.max(iat);
            claims.exp = claims.exp.max(claims.iat + 1);
            format!("iat {}", claims.iat)
        })
    }

    pub(super) fn not_before(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let leeway = this.wf.policy.leeway_seconds;
            let step = &mut this.wf.steps[t];
            let nbf = step.now + leeway + 1 + this.rng.next() % 3;
            step.claims.nbf = Some(nbf);
            format!("nbf {nbf} at now {}", step.now)
        })
    }

    pub(super) fn too_old(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let (leeway, max_age) = this.time_limits();
            let now = this.wf.steps[t].claims.iat + max_age + 1 + this.rng.next() % 3;
            let step = &mut this.wf.steps[t];
            step.now = now;
            // Not expired at the new now.
            step.claims.exp = step.claims.exp.max(now + 1 - leeway);
            format!("now {now}")
        })
    }

    pub(super) fn audience_mismatch(&mut self) -> Stage {
        self.edit_aud(|rng| match rng.below(5) {
            0 => Audience::One(OTHER_AUDIENCE.into()),
            1 => Audience::Many(vec![
                OTHER_AUDIENCE.into(),
                "spiffe://example.org/third".into(),
            ]),
            2 => Audience::One(AUDIENCE.to_uppercase()),
            3 => Audience::One(format!("{AUDIENCE}/")),
            _ => Audience::Many(vec![format!("{AUDIENCE} ")]),
        })
    }
}
