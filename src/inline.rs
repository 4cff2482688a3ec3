//! A token with its parents inline, as one `Execution-Context` field carries them (SPEC.md §9):
//! [`Verifier::verify_inline`] checks the DAG against the inline parents,
//! [`Verifier::accept_inline`] accepts the parents and the token into a ledger. The HTTP
//! middleware (feature `tower`) is built on these two; they work without any feature.
//!
//! The inline convention (the vectors' and the conformance kit's): the field's first token is
//! the request's own, the rest are its parents' tokens. Every token passes SPEC.md §2–§6 at
//! the same `now` and audience, parents first in field order, then the request's own token.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::builder::{EctBuilder, random_uuid};
use crate::check::VerifiedEct;
use crate::claims::Claims;
use crate::dag::DagOutcome;
use crate::error::{Error, Result};
use crate::keys::KeyResolver;
use crate::ledger::{Ledger, LedgerEntry};
use crate::store::{EctStore, ScopeKey, StoredEct, TokenStore};
use crate::verifier::Verifier;

/// A request's own ECT, verified with its inline parents (SPEC.md §9): what
/// [`Verifier::verify_inline`] and [`Verifier::accept_inline`] return, and what the HTTP
/// middleware puts in a request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRequest {
    ect: VerifiedEct,
    parents: Vec<VerifiedEct>,
    dag: DagOutcome,
    entry: Option<Arc<LedgerEntry>>,
}

impl VerifiedRequest {
    /// The request's own token, verified.
    pub fn ect(&self) -> &VerifiedEct {
        &self.ect
    }

    /// The request's own claims.
    pub fn claims(&self) -> &Claims {
        self.ect.claims()
    }

    /// The inline parent tokens, verified (SPEC.md §2–§6), in field order.
    pub fn parents(&self) -> &[VerifiedEct] {
        &self.parents
    }

    /// The DAG result of the request's own token: its verified parents and, in partial mode,
    /// the missing ones (never reported as verified).
    pub fn dag(&self) -> &DagOutcome {
        &self.dag
    }

    /// The `par` elements found and checked (ECT-DAG-2..6), in `par` order.
    pub fn verified_parents(&self) -> &[String] {
        &self.dag.verified_parents
    }

    /// The `par` elements not found (partial mode only), in `par` order.
    pub fn missing_parents(&self) -> &[String] {
        &self.dag.missing_parents
    }

    /// The ledger entry of the request's own token ([`Verifier::accept_inline`] only).
    pub fn entry(&self) -> Option<&Arc<LedgerEntry>> {
        self.entry.as_ref()
    }

    /// A builder for the token of the task done in answer to this request: a fresh random
    /// `jti` ([`crate::random_uuid`]), the request's own task as its parent (`par`), and the
    /// request's workflow (`wid`). Set the audience and times, then sign; send the result with
    /// this request's token as its inline parent ([`VerifiedRequest::inline_parents`]).
    ///
    /// If the system's random generator fails, the `jti` is left unset and signing fails
    /// (`claims.missing`) rather than reuse an identifier.
    pub fn child(&self, iss: impl Into<String>, exec_act: impl Into<String>) -> EctBuilder {
        let mut builder = EctBuilder::new(iss, exec_act).parent(self.ect.jti());
        if let Ok(jti) = random_uuid() {
            builder = builder.jti(jti);
        }
        if let Some(wid) = &self.claims().wid {
            builder = builder.wid(wid.clone());
        }
        builder
    }

    /// The inline parents a child made by [`VerifiedRequest::child`] travels with: this
    /// request's own token.
    pub fn inline_parents(&self) -> [&str; 1] {
        [self.ect.token()]
    }

    /// Client side (feature `http`): sets the `Execution-Context` field of `request` to
    /// `child` (a token made with [`VerifiedRequest::child`]) followed by this request's own
    /// token as its inline parent ([`crate::http::attach`]).
    #[cfg(feature = "http")]
    pub fn attach_child<B>(&self, request: &mut ::http::Request<B>, child: &str) -> Result<()> {
        crate::http::attach(request, child, &self.inline_parents())
    }
}

impl<K: KeyResolver> Verifier<K> {
    /// Verifies the tokens of one `Execution-Context` field (the request's own token first,
    /// then its parents' tokens; [`crate::http::parse_field_values`]) without a ledger: every
    /// parent passes SPEC.md §2–§6 (not recorded for replay: it was presented before, and is
    /// evidence here), then the request's own token passes §2–§6, the DAG rules against the
    /// inline parents (`policy.dag`, strict or partial) and ECT-RPL-1, as
    /// [`Verifier::verify_in`].
    ///
    /// No token is `http.missing`; more inline parents than `policy.max_par` (more than the
    /// own token may name) is `http.malformed`, before any signature is checked, so one
    /// request costs at most `max_par + 1` verifications. A parent given twice (same `jti`
    /// and scope) counts once, the first kept. A rejected request records nothing.
    pub fn verify_inline<S: AsRef<str>>(&self, tokens: &[S], now: u64) -> Result<VerifiedRequest> {
        let (own, parents) = self.split_inline(tokens)?;
        let parents = self.verify_parents(parents, now)?;
        let mut store = TokenStore::new();
        for parent in &parents {
            store.insert(parent.clone());
        }
        let (ect, dag) = self.verify_in(own.as_ref(), now, &store)?;
        Ok(VerifiedRequest {
            ect,
            parents,
            dag,
            entry: None,
        })
    }

    /// Accepts the tokens of one `Execution-Context` field into `ledger` (the request's own
    /// token first in `tokens`, then its parents' tokens): every token passes SPEC.md §2–§6;
    /// the inline parents that `ledger` does not hold yet, then the own token, are accepted
    /// into it in field order (the DAG rules against the ledger, ECT-RPL-1, the append) in one
    /// [`Ledger::append`] call, as [`Verifier::accept_batch`] does (one transaction, one
    /// commit). So a ledger that names a request's token also holds the parents it came with,
    /// and its audit passes in strict mode. In strict mode each inline parent's own parents
    /// must then be in the ledger too, or inline: a request carries inline every ancestor its
    /// receiver's ledger lacks, or the ledger runs in partial mode.
    ///
    /// The new parents are appended parents first (a parent that names another inline parent
    /// comes after it, whatever the field's order), otherwise in field order. An inline parent
    /// the ledger already holds (same scope) with the same bytes is not appended again; with
    /// other bytes it is `dag.duplicate_jti`.
    ///
    /// Before anything is written, every candidate is checked against a read-only view (the
    /// ledger plus the candidates before it), so a request refused by a DAG rule writes
    /// nothing. Only a race with another writer of the same ledger between that check and the
    /// append (another instance accepting one of these tokens at the same moment) can make the
    /// append refuse a candidate after earlier ones of the request were appended; those earlier
    /// ones then stay: each is a token that passed every rule on its own. A parent that the
    /// racing writer appended with the same bytes is no refusal.
    ///
    /// Errors as [`Verifier::verify_inline`], plus the ledger's.
    pub fn accept_inline<S: AsRef<str>, L: Ledger + ?Sized>(
        &self,
        tokens: &[S],
        now: u64,
        ledger: &L,
    ) -> Result<VerifiedRequest> {
        let (own, parents) = self.split_inline(tokens)?;
        let parents = self.verify_parents(parents, now)?;
        let own = self.verify_stateless(own.as_ref().as_bytes(), now)?;
        self.same_profile(ledger)?;

        // The parents the ledger does not hold, then the own token: the candidates.
        let mut fresh: Vec<&VerifiedEct> = Vec::new();
        let mut planned = TokenStore::new();
        for parent in &parents {
            let claims = parent.claims();
            match ledger.get(claims.wid.as_deref(), &claims.jti)? {
                Some(held) if held.token() == parent.token() => {}
                Some(_) => return Err(Error::DuplicateJti(claims.jti.clone())),
                None => {
                    if planned.insert(parent.clone()) {
                        fresh.push(parent);
                    }
                }
            }
        }
        // Parents before their children, so a field may list them in any order.
        let fresh = parents_first(fresh);
        // The read-only rehearsal: each candidate against the ledger plus those before it.
        let mut view = Overlay {
            ledger,
            extra: TokenStore::new(),
        };
        for candidate in fresh.iter().copied().chain([&own]) {
            self.policy()
                .dag
                .validate(&self.policy().profile, candidate.claims(), &view)?;
            view.extra.insert(candidate.clone());
        }

        let candidates: Vec<VerifiedEct> = fresh
            .iter()
            .map(|&p| p.clone())
            .chain([own.clone()])
            .collect();
        // As accept_batch after its stateless checks: one Ledger::append call.
        let mut results = self.admit(candidates, now, ledger);
        let own_result = results.pop().expect("one result per candidate");
        for (parent, result) in fresh.iter().zip(results) {
            match result {
                Ok(_) => {}
                // Appended meanwhile by another writer, with the same bytes: held, as wanted.
                Err(Error::DuplicateJti(_)) if held_as(ledger, parent)? => {}
                Err(e) => return Err(e),
            }
        }
        let accepted = own_result?;
        Ok(VerifiedRequest {
            ect: own,
            parents,
            dag: accepted.dag,
            entry: Some(accepted.entry),
        })
    }

    /// The own token and the parents; `http.missing` for none, `http.malformed` for more
    /// parents than `max_par`.
    fn split_inline<'t, S: AsRef<str>>(&self, tokens: &'t [S]) -> Result<(&'t S, &'t [S])> {
        let (own, parents) = tokens.split_first().ok_or(Error::HttpMissing)?;
        let max = self.policy().max_par;
        if parents.len() > max {
            return Err(Error::HttpMalformed(format!(
                "{} inline parent tokens, more than max_par ({max}) a token may name",
                parents.len()
            )));
        }
        Ok((own, parents))
    }

    /// SPEC.md §2–§6 of each inline parent, in order, without a replay record.
    fn verify_parents<S: AsRef<str>>(&self, parents: &[S], now: u64) -> Result<Vec<VerifiedEct>> {
        let mut verified: Vec<VerifiedEct> = Vec::with_capacity(parents.len());
        let mut seen = HashSet::with_capacity(parents.len());
        for parent in parents {
            let v = self.verify_stateless(parent.as_ref().as_bytes(), now)?;
            // A parent given twice (same scope) counts once, the first kept.
            if seen.insert(ScopeKey::of(v.claims())) {
                verified.push(v);
            }
        }
        Ok(verified)
    }
}

/// `tokens` ordered so that a token comes after every token of the list it names in `par`
/// (same scope), otherwise in the given order (Kahn's algorithm, taking the first ready token
/// each time; O(n + par links)). Tokens on a cycle keep their order at the end: the DAG rules
/// refuse them.
fn parents_first(tokens: Vec<&VerifiedEct>) -> Vec<&VerifiedEct> {
    let index: HashMap<ScopeKey, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, e)| (ScopeKey::of(e.claims()), i))
        .collect();
    // For each token, how many listed tokens it waits for, and who waits for it.
    let mut waits = vec![0usize; tokens.len()];
    let mut waiting: Vec<Vec<usize>> = vec![Vec::new(); tokens.len()];
    for (i, e) in tokens.iter().enumerate() {
        for parent in &e.claims().par {
            if let Some(&j) = index.get(&ScopeKey::new(e.claims().wid.as_deref(), parent)) {
                waits[i] += 1;
                waiting[j].push(i);
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..tokens.len()).filter(|&i| waits[i] == 0).collect();
    let mut order = Vec::with_capacity(tokens.len());
    let mut placed = vec![false; tokens.len()];
    while let Some(i) = ready.pop_first() {
        order.push(i);
        placed[i] = true;
        for &k in &waiting[i] {
            waits[k] -= 1;
            if waits[k] == 0 {
                ready.insert(k);
            }
        }
    }
    order.extend((0..tokens.len()).filter(|&i| !placed[i]));
    order.into_iter().map(|i| tokens[i]).collect()
}

/// Whether `ledger` holds `ect` with exactly its bytes.
fn held_as<L: Ledger + ?Sized>(ledger: &L, ect: &VerifiedEct) -> Result<bool> {
    let claims = ect.claims();
    Ok(ledger
        .get(claims.wid.as_deref(), &claims.jti)?
        .is_some_and(|held| held.token() == ect.token()))
}

/// A ledger seen with some tokens added on top, read-only: the rehearsal of
/// [`Verifier::accept_inline`]. Exact in the sense of the [`EctStore`] contract: `get` finds a
/// token in either, `referrers` lists the ledger's, then the added ones.
struct Overlay<'l, L: ?Sized> {
    ledger: &'l L,
    extra: TokenStore,
}

impl<L: EctStore + ?Sized> EctStore for Overlay<'_, L> {
    fn get(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        match self.ledger.get(wid, jti)? {
            Some(held) => Ok(Some(held)),
            None => Ok(self.extra.get(wid, jti)),
        }
    }

    fn referrers(&self, wid: Option<&str>, jti: &str, limit: usize) -> Result<Vec<Arc<StoredEct>>> {
        let mut list = self.ledger.referrers(wid, jti, limit)?;
        if list.len() < limit {
            list.extend(self.extra.referrers(wid, jti, limit - list.len()));
        }
        Ok(list)
    }

    // The ledger's tokens are older than the added ones, so its answer comes first.
    fn get_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        match self.ledger.get_elsewhere(wid, jti)? {
            Some(held) => Ok(Some(held)),
            None => self.extra.get_elsewhere(wid, jti),
        }
    }

    fn referrer_elsewhere(&self, wid: Option<&str>, jti: &str) -> Result<Option<Arc<StoredEct>>> {
        match self.ledger.referrer_elsewhere(wid, jti)? {
            Some(held) => Ok(Some(held)),
            None => self.extra.referrer_elsewhere(wid, jti),
        }
    }
}
