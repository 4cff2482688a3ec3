//! ECT-RPL-1, replay (SPEC.md §6): the cases of `Mutation::Replay` (an earlier token presented
//! again, inline) and `ReplayCacheFull` (a bounded replay cache already full of live tokens,
//! code `replay.full`).

use super::Mutator;
use crate::testing::Stage;
use wimse_ect::ReplayProtection;

impl Mutator {
    pub(super) fn replay(&mut self) -> Stage {
        let t = self.inline_target();
        let again = self.rng.below(t + 1);
        let copy = self.wf.steps[again].clone();
        self.wf.steps.push(copy);
        self.describe(format!("step {again} presented again, inline"));
        Stage::Step(t + 1)
    }

    pub(super) fn replay_cache_full(&mut self) -> Stage {
        let mut t = self.target();
        if t == 0 {
            t = self.derive_root(0);
        }
        self.wf.policy.replay = ReplayProtection::Enabled {
            max_entries: Some(t),
        };
        self.describe(format!("replay cache of {t} entries"));
        Stage::Step(t)
    }
}
