//! ECT-LED-1..4 (SPEC.md §8) as a state machine: any [`Ledger`] backend
//! ([`super::LedgerBackend`]), fed through [`Verifier::accept`], against a trivial reference
//! model under random sequences of accepts, lookups, reopens and audits
//! (proptest-state-machine).
//!
//! The model is a plain list of accepted tokens, scanned linearly. It predicts the outcome of
//! every accept from the rules in SPEC.md's order of checks: the token-level rules first
//! (ECT-SIG-2, ECT-CLM-8, ECT-CLM-9, ECT-TIME-2..4), then the DAG rules in strict mode
//! (ECT-DAG-1, ECT-DAG-2, ECT-DAG-3, ECT-DAG-6), then ECT-RPL-1. After every transition the
//! ledger must hold exactly the model's entries (sequence numbers, tokens, acceptance times,
//! hash chain), and a rejected token must leave it unchanged, down to the file's bytes.
//!
//! Time never comes from a clock: transition `k` (from 1) happens at `NOW + k`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestError, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use wimse_ect::{
    AuditReport, ChainHash, DagValidator, EctBuilder, EctStore, Error, KeyResolver, KeySet, Ledger,
    LedgerAudit, Policy, PolicyDecision, ReplayProtection, SigningKey, Verifier, sign_raw,
};

use super::LedgerBackend;

/// The fixed "current time": transition `k` happens at `NOW + k`.
pub(super) const NOW: u64 = 1_772_000_000;
/// The verifier's own identifier.
pub(super) const AUD: &str = "spiffe://example.org/verifier";
/// The issuer of every token (the signing key is bound to it).
pub(super) const ISS: &str = "spiffe://example.org/agent-a";
/// The key id of the one signing key.
const KID: &str = "agent-a";
/// The `exec_act` of every token.
pub(super) const EXEC_ACT: &str = "step";
/// The `pol` of tokens that carry a policy decision.
const POL: &str = "spiffe://example.org/policy/ledger";

/// SPEC.md §6 default leeway (ECT-TIME-2, ECT-TIME-3), as the model applies it.
const LEEWAY: u64 = 30;
/// SPEC.md §6 default maximum `iat` age (ECT-TIME-4), as the model applies it.
const MAX_IAT_AGE: u64 = 900;
/// SPEC.md §7 default skew (ECT-DAG-3), as the model applies it.
const SKEW: u64 = 30;

/// The task ids every token draws its `jti` and `par` from.
const POOL: [&str; 6] = [
    "5e1f0a00-0000-4000-8000-000000000001",
    "5e1f0a00-0000-4000-8000-000000000002",
    "5e1f0a00-0000-4000-8000-000000000003",
    "5e1f0a00-0000-4000-8000-000000000004",
    "5e1f0a00-0000-4000-8000-000000000005",
    "5e1f0a00-0000-4000-8000-000000000006",
];
/// Workflow 1.
const W1: &str = "77777777-0000-4000-8000-000000000001";
/// Workflow 2.
const W2: &str = "77777777-0000-4000-8000-000000000002";
/// The three scopes a `jti` is unique in: no `wid`, `W1`, `W2`.
const SCOPES: [Option<&str>; 3] = [None, Some(W1), Some(W2)];

/// The one signing key (agent A, private scalar 1 repeated).
pub(super) fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_scalar_bytes(KID, &[1; 32]).expect("a valid P-256 scalar"))
}

/// What a generated token looks like. The model predicts from these fields only, never from
/// the token's bytes.
#[derive(Clone, PartialEq, Eq)]
struct TokenSpec {
    jti: &'static str,
    wid: Option<&'static str>,
    par: Vec<&'static str>,
    iat: u64,
    exp: u64,
    pol: Option<PolicyDecision>,
    /// The last character of the signature was replaced (ECT-SIG-2 fails).
    tampered: bool,
}

/// A generated token: its description and the compact token signed from it.
#[derive(Clone)]
struct TokenCase {
    spec: TokenSpec,
    token: Arc<str>,
}

/// Short enough to read a shrunk sequence: ids by their last hex digit, times relative to
/// `NOW`, the token by its last characters.
impl fmt::Debug for TokenCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let short = |id: &str| id[id.len() - 1..].to_owned();
        f.debug_struct("Token")
            .field("jti", &short(s.jti))
            .field("wid", &s.wid.map(short))
            .field("par", &s.par.iter().map(|p| short(p)).collect::<Vec<_>>())
            .field("iat", &(s.iat as i64 - NOW as i64))
            .field("exp", &(s.exp as i64 - NOW as i64))
            .field("pol", &s.pol)
            .field("tampered", &s.tampered)
            .field("token_tail", &&self.token[self.token.len() - 6..])
            .finish()
    }
}

impl TokenCase {
    /// Signs `spec`: through [`EctBuilder`] when its claims are valid, as raw JSON when `par`
    /// holds a duplicate or the own `jti` (which the builder refuses to sign); then replaces
    /// the signature's last character if `spec.tampered`.
    fn sign(spec: TokenSpec) -> Self {
        let has_duplicate = spec
            .par
            .iter()
            .enumerate()
            .any(|(i, p)| spec.par[..i].contains(p));
        let token = if has_duplicate || spec.par.contains(&spec.jti) {
            sign_raw_claims(&spec)
        } else {
            let mut b = EctBuilder::new(ISS, EXEC_ACT)
                .audience(AUD)
                .jti(spec.jti)
                .issued_at(spec.iat)
                .expires_at(spec.exp);
            if let Some(wid) = spec.wid {
                b = b.wid(wid);
            }
            for p in &spec.par {
                b = b.parent(*p);
            }
            if let Some(decision) = spec.pol {
                b = b.policy(POL, decision);
            }
            b.sign(signing_key())
                .expect("the builder signs valid claims")
        };
        let token = if spec.tampered { tamper(&token) } else { token };
        TokenCase {
            spec,
            token: token.into(),
        }
    }
}

/// The token for claims the builder refuses (duplicate or own `jti` in `par`), signed as
/// hand-written JSON. Every value is ASCII without characters JSON would escape.
fn sign_raw_claims(spec: &TokenSpec) -> String {
    let header = format!(r#"{{"alg":"ES256","kid":"{KID}","typ":"wimse-exec+jwt"}}"#);
    let par: Vec<String> = spec.par.iter().map(|p| format!("\"{p}\"")).collect();
    let (iat, exp, jti, par) = (spec.iat, spec.exp, spec.jti, par.join(","));
    let mut payload = format!(r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{iat},"exp":{exp},"#);
    payload.push_str(&format!(
        r#""jti":"{jti}","exec_act":"{EXEC_ACT}","par":[{par}]"#
    ));
    if let Some(wid) = spec.wid {
        payload.push_str(&format!(r#","wid":"{wid}""#));
    }
    if let Some(decision) = spec.pol {
        payload.push_str(&format!(
            r#","pol":"{POL}","pol_decision":"{}""#,
            decision.as_str()
        ));
    }
    payload.push('}');
    sign_raw(header.as_bytes(), payload.as_bytes(), signing_key())
}

/// Replaces the last character of the signature with another one that keeps the encoding
/// canonical. 64 bytes are 86 base64url characters whose last one carries 2 bits and 4 zero
/// bits, so it is one of `A`, `Q`, `g`, `w`; another of these changes the signature's last
/// byte (ECT-SIG-2 fails) without breaking ECT-JWS-3.
pub(super) fn tamper(token: &str) -> String {
    const CANONICAL_LAST: [char; 4] = ['A', 'Q', 'g', 'w'];
    let last = token.chars().last().expect("a compact token is not empty");
    let at = CANONICAL_LAST
        .iter()
        .position(|&c| c == last)
        .unwrap_or_else(|| panic!("{last:?} ends a canonical 64-byte signature"));
    let mut out = token[..token.len() - 1].to_owned();
    out.push(CANONICAL_LAST[(at + 1) % CANONICAL_LAST.len()]);
    out
}

/// One accepted token in the model.
#[derive(Clone, Debug)]
struct ModelEntry {
    case: TokenCase,
    /// The acceptance time (the `now` of the accept).
    at: u64,
    /// The entry's chain hash: [`ChainHash::of_entry`] folded from [`ChainHash::GENESIS`].
    hash: ChainHash,
}

/// The reference model: the accepted tokens in acceptance order, looked up by linear scan.
#[derive(Clone, Debug, Default)]
struct Model {
    entries: Vec<ModelEntry>,
    /// Number of transitions applied; transition `k` happens at `NOW + k`.
    step: u64,
    /// The predicted outcome of the last transition if it was an accept: the new entry's
    /// sequence number, or the error.
    last_accept: Option<Result<u64, Error>>,
}

impl Model {
    /// The chain head: the last entry's hash, [`ChainHash::GENESIS`] when empty.
    fn head(&self) -> ChainHash {
        self.entries.last().map_or(ChainHash::GENESIS, |e| e.hash)
    }

    /// The accepted token with this `jti` in this scope (ECT-LED-2).
    fn find(&self, wid: Option<&str>, jti: &str) -> Option<&ModelEntry> {
        self.entries
            .iter()
            .find(|e| e.case.spec.wid == wid && e.case.spec.jti == jti)
    }

    /// The `jti`s of the pool accepted in scope `wid`.
    fn taken(&self, wid: Option<&str>) -> Vec<&'static str> {
        POOL.iter()
            .copied()
            .filter(|j| self.find(wid, j).is_some())
            .collect()
    }

    /// The ledger file the model's entries make (SPEC.md §8 file format, one canonical line
    /// per entry).
    fn file_text(&self) -> String {
        let mut prev = ChainHash::GENESIS;
        let mut text = String::new();
        for (seq, e) in self.entries.iter().enumerate() {
            let (at, hash, token) = (e.at, e.hash, &e.case.token);
            text.push_str(&format!(
                r#"{{"seq":{seq},"at":{at},"prev":"{prev}","hash":"{hash}","token":"{token}"}}"#
            ));
            text.push('\n');
            prev = e.hash;
        }
        text
    }

    /// The first token-level rule `spec` breaks at `now`, in SPEC.md's order (the signature,
    /// then the claims, then the time rules). Audience, header and the other claims are valid
    /// by construction.
    fn token_error(spec: &TokenSpec, now: u64) -> Option<Error> {
        // ECT-SIG-2 comes before the payload is even parsed.
        if spec.tampered {
            return Some(Error::SignatureInvalid);
        }
        // ECT-CLM-8: no `par` element twice.
        if let Some(p) = spec
            .par
            .iter()
            .enumerate()
            .find_map(|(i, p)| spec.par[..i].contains(p).then_some(p))
        {
            return Some(Error::Par(format!("{p:?} appears twice")));
        }
        // ECT-CLM-9: `par` does not name the token itself.
        if spec.par.contains(&spec.jti) {
            return Some(Error::ParSelf);
        }
        // ECT-TIME-1 (never broken here), ECT-TIME-2, ECT-TIME-3, ECT-TIME-4.
        if spec.exp <= spec.iat {
            return Some(Error::ExpBeforeIat);
        }
        if now >= spec.exp + LEEWAY {
            return Some(Error::Expired);
        }
        if spec.iat > now + LEEWAY {
            return Some(Error::NotYetValid);
        }
        if now.saturating_sub(spec.iat) > MAX_IAT_AGE {
            return Some(Error::TooOld);
        }
        None
    }

    /// The first DAG rule (strict mode) `spec` breaks against the accepted tokens, in
    /// SPEC.md's order: ECT-DAG-1, then ECT-DAG-2 for each parent in `par` order, ECT-DAG-3
    /// for each parent, ECT-DAG-6 for each parent.
    ///
    /// ECT-DAG-4/5 cannot fire: every parent was accepted before its child. ECT-RPL-1 cannot
    /// fire either: the replay cache records exactly the accepted `(wid, jti)` pairs, the
    /// ledger's own scopes, so a replay always meets ECT-DAG-1 first (and ECT-LED-3's
    /// duplicate check after both is unreachable for the same reason).
    fn dag_error(&self, spec: &TokenSpec) -> Option<Error> {
        if self.find(spec.wid, spec.jti).is_some() {
            return Some(Error::DuplicateJti(spec.jti.to_owned()));
        }
        let mut parents = Vec::with_capacity(spec.par.len());
        for p in &spec.par {
            match self.find(spec.wid, p) {
                Some(parent) => parents.push(&parent.case.spec),
                None => return Some(Error::ParentMissing((*p).to_owned())),
            }
        }
        if let Some(parent) = parents.iter().find(|p| p.iat > spec.iat + SKEW) {
            return Some(Error::TemporalOrder {
                parent: parent.jti.to_owned(),
                parent_iat: parent.iat,
                child_iat: spec.iat,
            });
        }
        parents.iter().find_map(|p| match p.pol {
            Some(decision @ (PolicyDecision::Rejected | PolicyDecision::PendingHumanReview)) => {
                Some(Error::ParentPolicy {
                    parent: p.jti.to_owned(),
                    decision,
                })
            }
            _ => None,
        })
    }
}

/// The operations, each applied to both the model and the ledger.
#[derive(Clone, Debug)]
enum Transition {
    /// `Verifier::accept` of a token (a new one, or one already accepted, presented again).
    Accept(TokenCase),
    /// `EctStore::get(wid, jti)`.
    Lookup {
        wid: Option<&'static str>,
        jti: &'static str,
    },
    /// File ledger: drop it and open the file again. Memory ledger: rebuild it from its
    /// entries' canonical lines (`FileLedger::read`).
    Reopen,
    /// `verify_chain`, `validate_all` and, for the file ledger, `audit_file`.
    Audit,
}

/// How an accept picks its `jti`: one not yet taken in the token's scope, or a taken one (a
/// duplicate). Falls back to the whole pool when the chosen list is empty.
#[derive(Clone, Debug)]
enum JtiPick {
    Fresh(Index),
    Taken(Index),
}

/// How an accept picks a parent: one taken in the token's scope, other than the token itself
/// and not yet in `par` (none if there is no such one); any pool id (perhaps missing); the
/// previous parent again (ECT-CLM-8; the own `jti` when there is none yet); or the token's own
/// `jti` (ECT-CLM-9).
#[derive(Clone, Debug)]
enum ParPick {
    Taken(Index),
    Pool(Index),
    Again,
    Own,
}

/// Accepts of new tokens, drawn from a small space so that duplicates, present and missing
/// parents, skew violations and time failures are all frequent.
fn new_token(model: &Model) -> impl Strategy<Value = TokenCase> + use<> {
    let taken: [Vec<&'static str>; 3] = SCOPES.map(|w| model.taken(w));
    let jti = prop_oneof![
        4 => any::<Index>().prop_map(JtiPick::Fresh),
        1 => any::<Index>().prop_map(JtiPick::Taken),
    ];
    let parent = prop_oneof![
        24 => any::<Index>().prop_map(ParPick::Taken),
        4 => any::<Index>().prop_map(ParPick::Pool),
        1 => Just(ParPick::Again),
        1 => Just(ParPick::Own),
    ];
    // (iat, exp): mostly valid and within the skew of each other, which some pairs are not
    // (ECT-DAG-3); sometimes expiring during the run (ECT-TIME-2 from step 10 or 40),
    // expired, too old (ECT-TIME-4), or in the future (ECT-TIME-3; +45 only before step 15).
    let near = |offset: i64, lifetime: u64| {
        let iat = NOW.checked_add_signed(offset).expect("iat near NOW");
        (iat, iat + lifetime)
    };
    // Each time rule's two sides, exactly at its edge for the coming acceptance time.
    let next = NOW + model.step + 1;
    let edges = vec![
        // ECT-TIME-2: expired iff now >= exp + leeway.
        (next - 600, next - LEEWAY + 1),
        (next - 600, next - LEEWAY),
        // ECT-TIME-3: in the future iff iat > now + leeway.
        (next + LEEWAY, next + 600),
        (next + LEEWAY + 1, next + 600),
        // ECT-TIME-4: too old iff now - iat > max_iat_age.
        (next - MAX_IAT_AGE, next + 600),
        (next - MAX_IAT_AGE - 1, next + 600),
    ];
    let time = prop_oneof![
        24 => select(vec![0i64, -30, -60, 10, 25]).prop_map(move |o| near(o, 600)),
        2 => select(vec![-30i64, -60]).prop_map(move |o| near(o, 40)),
        1 => Just(near(-1000, 600)),
        1 => Just(near(-1000, 3600)),
        2 => select(vec![45i64, 100]).prop_map(move |o| near(o, 600)),
        3 => select(edges),
    ];
    let pol = prop_oneof![
        6 => Just(None),
        1 => Just(Some(PolicyDecision::Approved)),
        1 => Just(Some(PolicyDecision::Rejected)),
        1 => Just(Some(PolicyDecision::PendingHumanReview)),
    ];
    (
        0..SCOPES.len(),
        jti,
        proptest::collection::vec(parent, 0..=2),
        time,
        pol,
        proptest::bool::weighted(0.05),
    )
        .prop_map(move |(scope, jti, parents, (iat, exp), pol, tampered)| {
            let wid = SCOPES[scope];
            let taken = &taken[scope];
            let fresh: Vec<&'static str> = POOL
                .iter()
                .copied()
                .filter(|j| !taken.contains(j))
                .collect();
            let pick = |list: &[&'static str], ix: &Index| {
                if list.is_empty() {
                    *ix.get(&POOL)
                } else {
                    *ix.get(list)
                }
            };
            let jti = match &jti {
                JtiPick::Fresh(ix) => pick(&fresh, ix),
                JtiPick::Taken(ix) => pick(taken, ix),
            };
            let mut par: Vec<&'static str> = Vec::with_capacity(parents.len());
            for p in &parents {
                let parent = match p {
                    ParPick::Taken(ix) => {
                        let candidates: Vec<&'static str> = taken
                            .iter()
                            .copied()
                            .filter(|j| *j != jti && !par.contains(j))
                            .collect();
                        if candidates.is_empty() {
                            continue;
                        }
                        *ix.get(&candidates)
                    }
                    ParPick::Pool(ix) => *ix.get(&POOL),
                    ParPick::Again => par.last().copied().unwrap_or(jti),
                    ParPick::Own => jti,
                };
                par.push(parent);
            }
            TokenCase::sign(TokenSpec {
                jti,
                wid,
                par,
                iat,
                exp,
                pol,
                tampered,
            })
        })
}

/// Lookups: mostly of an accepted `(wid, jti)`, sometimes of any pool id in any scope.
fn lookup(model: &Model) -> BoxedStrategy<Transition> {
    let any_id = (0..SCOPES.len(), select(POOL.to_vec()))
        .prop_map(|(scope, jti)| Transition::Lookup {
            wid: SCOPES[scope],
            jti,
        })
        .boxed();
    if model.entries.is_empty() {
        return any_id;
    }
    let accepted: Vec<(Option<&'static str>, &'static str)> = model
        .entries
        .iter()
        .map(|e| (e.case.spec.wid, e.case.spec.jti))
        .collect();
    prop_oneof![
        2 => select(accepted).prop_map(|(wid, jti)| Transition::Lookup { wid, jti }),
        1 => any_id,
    ]
    .boxed()
}

/// The reference state machine over [`Model`].
struct LedgerModel;

impl ReferenceStateMachine for LedgerModel {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(model: &Model) -> BoxedStrategy<Transition> {
        let accept = new_token(model).prop_map(Transition::Accept);
        if model.entries.is_empty() {
            return prop_oneof![
                10 => accept,
                3 => lookup(model),
                1 => Just(Transition::Reopen),
                1 => Just(Transition::Audit),
            ]
            .boxed();
        }
        // The very token of an earlier accept, presented again.
        let again: Vec<TokenCase> = model.entries.iter().map(|e| e.case.clone()).collect();
        prop_oneof![
            10 => accept,
            2 => select(again).prop_map(Transition::Accept),
            3 => lookup(model),
            1 => Just(Transition::Reopen),
            1 => Just(Transition::Audit),
        ]
        .boxed()
    }

    fn apply(mut model: Model, transition: &Transition) -> Model {
        model.step += 1;
        model.last_accept = None;
        if let Transition::Accept(case) = transition {
            let now = NOW + model.step;
            let error = Model::token_error(&case.spec, now).or_else(|| model.dag_error(&case.spec));
            model.last_accept = Some(match error {
                Some(e) => Err(e),
                None => {
                    let seq = model.entries.len() as u64;
                    let hash = ChainHash::of_entry(seq, now, &model.head(), &case.token);
                    model.entries.push(ModelEntry {
                        case: case.clone(),
                        at: now,
                        hash,
                    });
                    Ok(seq)
                }
            });
        }
        model
    }
}

/// The system under test: a ledger, the one verifier that fills it (its replay cache lives
/// as long as the test case, across reopens), and the transition count.
struct Sut<B: LedgerBackend> {
    ledger: B::Ledger,
    verifier: Verifier,
    step: u64,
    // Last, so that the place (a directory, a database schema) is removed after the ledger
    // is closed.
    place: B::Place,
}

/// The verifier: SPEC.md's defaults for `AUD` (strict DAG, replay cache enabled), trusting
/// the signing key for `ISS`.
pub(super) fn verifier() -> Verifier {
    let keys = KeySet::from_keys([signing_key().trusted(Some(ISS))]).expect("one key");
    let mut policy = Policy::new(AUD);
    policy.dag = DagValidator::new();
    assert_eq!(
        (
            policy.leeway_seconds,
            policy.max_iat_age_seconds,
            policy.dag.skew_seconds,
            policy.replay,
        ),
        (
            LEEWAY,
            MAX_IAT_AGE,
            SKEW,
            ReplayProtection::Enabled { max_entries: None }
        ),
        "the model's constants are the policy's defaults"
    );
    Verifier::new(keys, policy).expect("a valid policy")
}

/// The library's error equals the model's prediction: code and rule always; the whole value
/// where its payload is data (ids, times, decisions). ECT-CLM-8's payload is a human-readable
/// message, so there the variant and code suffice.
fn assert_predicted(got: &Error, want: &Error, case: &TokenCase) {
    assert_eq!(
        (got.code(), got.rule()),
        (want.code(), want.rule()),
        "{}: error of {case:?}: got {got}, predicted {want}",
        want.rule()
    );
    if !matches!(want, Error::Par(_)) {
        assert_eq!(got, want, "error of {case:?}");
    }
}

/// An audit report of the model's entries: valid, complete, ending at the model's head.
fn assert_clean_report(report: &AuditReport, model: &Model, what: &str) {
    assert_eq!(report.findings, [], "{what}: findings");
    assert_eq!(report.missing_parents, [], "{what}: missing parents");
    assert!(report.is_valid(), "{what}: is_valid");
    assert_eq!(
        report.entries,
        model.entries.len() as u64,
        "{what}: entries"
    );
    assert_eq!(
        report.head,
        model.entries.last().map(|e| e.hash),
        "{what}: head"
    );
}

/// Runs the transitions on a ledger of type `B`.
struct LedgerTest<B>(PhantomData<B>);

impl<B: LedgerBackend> StateMachineTest for LedgerTest<B> {
    type SystemUnderTest = Sut<B>;
    type Reference = LedgerModel;

    fn init_test(_: &Model) -> Sut<B> {
        let (ledger, place) = B::create();
        Sut {
            ledger,
            verifier: verifier(),
            step: 0,
            place,
        }
    }

    fn apply(mut sut: Sut<B>, model: &Model, transition: Transition) -> Sut<B> {
        sut.step += 1;
        assert_eq!(sut.step, model.step, "one model step per transition");
        let now = NOW + sut.step;
        match transition {
            Transition::Accept(case) => {
                let before = (
                    sut.ledger.len(),
                    sut.ledger.head(),
                    B::line_file(&sut.ledger, &sut.place),
                );
                let got = sut.verifier.accept(&*case.token, now, &sut.ledger);
                let want = model
                    .last_accept
                    .as_ref()
                    .expect("the model predicted this accept");
                match (got, want) {
                    (Ok(accepted), Ok(seq)) => {
                        assert_eq!(accepted.entry.seq(), *seq, "ECT-LED-1: sequence number");
                        assert_eq!(accepted.entry.accepted_at(), now, "acceptance time");
                        assert_eq!(accepted.entry.ect().token(), &*case.token, "stored token");
                        assert_eq!(
                            accepted.dag.verified_parents, case.spec.par,
                            "strict mode verifies every parent, in par order"
                        );
                        assert_eq!(accepted.dag.missing_parents, Vec::<String>::new());
                    }
                    (Err(got), Err(want)) => {
                        assert_predicted(&got, want, &case);
                        assert_eq!(
                            (
                                sut.ledger.len(),
                                sut.ledger.head(),
                                B::line_file(&sut.ledger, &sut.place),
                            ),
                            before,
                            "ECT-LED-3: a rejected token ({}) leaves the ledger unchanged",
                            got.code()
                        );
                    }
                    (got, want) => {
                        // Name the rule first: the predicted one, or the one that fired.
                        let rule = match (&got, want) {
                            (_, Err(e)) | (Err(e), _) => format!("{} ({})", e.rule(), e.code()),
                            _ => unreachable!("both Ok is handled above"),
                        };
                        panic!(
                            "{rule}: accept of {case:?} at NOW+{}: got {got:?}, predicted {want:?}",
                            sut.step
                        )
                    }
                }
            }
            Transition::Lookup { wid, jti } => {
                let got = sut.ledger.get(wid, jti).unwrap();
                let want = model.find(wid, jti);
                assert_eq!(
                    got.as_ref().map(|e| e.token()),
                    want.map(|e| &*e.case.token),
                    "ECT-LED-2: get({wid:?}, {jti})"
                );
                if let Some(stored) = got {
                    assert_eq!((stored.wid(), stored.jti()), (wid, jti), "stored scope");
                }
            }
            Transition::Reopen => {
                let before = (
                    sut.ledger.len().unwrap(),
                    sut.ledger.head().unwrap(),
                    sut.ledger.entries().unwrap(),
                );
                sut.ledger = B::reopen(sut.ledger, &sut.place);
                assert_eq!(
                    (
                        sut.ledger.len().unwrap(),
                        sut.ledger.head().unwrap(),
                        sut.ledger.entries().unwrap()
                    ),
                    before,
                    "the reopened ledger holds the same entries"
                );
                sut.ledger
                    .verify_chain()
                    .expect("ECT-LED-4: the reopened chain verifies");
            }
            Transition::Audit => {
                sut.ledger
                    .verify_chain()
                    .expect("ECT-LED-4: the chain verifies");
                let keys: &dyn KeyResolver = sut.verifier.keys();
                let report = sut.ledger.validate_all(sut.verifier.policy(), Some(keys));
                assert_clean_report(&report, model, "validate_all");
                if let Some((report, torn)) =
                    B::audit_storage(&sut.ledger, &sut.place, sut.verifier.policy(), keys)
                {
                    assert_clean_report(&report, model, "audit of the storage");
                    assert_eq!(torn, None, "audit of the storage: torn tail");
                }
            }
        }
        sut
    }

    /// After every transition: the ledger holds exactly the model's entries, in order, with
    /// the model's chain (ECT-LED-1, ECT-LED-4), finds each of them (ECT-LED-2), and the file
    /// ledger's file is exactly the model's canonical lines.
    fn check_invariants(sut: &Sut<B>, model: &Model) {
        let ledger = &sut.ledger;
        let entries = ledger.entries().unwrap();
        assert_eq!(ledger.len().unwrap(), model.entries.len() as u64, "len");
        assert_eq!(entries.len(), model.entries.len(), "entries().len()");
        assert_eq!(
            ledger.is_empty().unwrap(),
            model.entries.is_empty(),
            "is_empty"
        );
        assert_eq!(ledger.head().unwrap(), model.head(), "ECT-LED-4: head");
        let mut prev = ChainHash::GENESIS;
        for (i, (got, want)) in entries.iter().zip(&model.entries).enumerate() {
            let seq = i as u64;
            assert_eq!(got.seq(), seq, "ECT-LED-1: entry {i} seq");
            assert_eq!(got.ect().token(), &*want.case.token, "entry {i} token");
            assert_eq!(got.accepted_at(), want.at, "entry {i} accepted_at");
            assert_eq!(got.prev(), prev, "ECT-LED-4: entry {i} prev");
            assert_eq!(got.hash(), want.hash, "ECT-LED-4: entry {i} hash");
            assert_eq!(
                ledger.entry(seq).unwrap().as_ref(),
                Some(got),
                "entry({seq})"
            );
            let spec = &want.case.spec;
            assert_eq!(
                ledger
                    .get(spec.wid, spec.jti)
                    .unwrap()
                    .map(|e| e.token().to_owned()),
                Some(want.case.token.to_string()),
                "ECT-LED-2: entry {i} by (wid, jti)"
            );
            prev = want.hash;
        }
        assert_eq!(
            ledger.entry(model.entries.len() as u64).unwrap(),
            None,
            "entry(len)"
        );
        if let Some(bytes) = B::line_file(ledger, &sut.place) {
            assert_eq!(
                String::from_utf8(bytes).expect("a ledger file is ASCII"),
                model.file_text(),
                "the ledger file is the model's lines"
            );
        }
    }
}

/// Runs `cases` random sequences of 1 to 40 transitions on ledgers of backend `B` against the
/// model; panics with the shrunk failing sequence.
pub(super) fn run<B: LedgerBackend>(cases: u32) {
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let result = runner.run(
        &LedgerModel::sequential_strategy(1..=40),
        |(initial, transitions, seen)| {
            LedgerTest::<B>::test_sequential(Config::default(), initial, transitions, seen);
            Ok(())
        },
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (_, transitions, _))) => panic!(
            "{}: the ledger state machine failed: {why}\nminimal transitions: {transitions:#?}",
            B::NAME
        ),
        Err(TestError::Abort(why)) => panic!("{}: the state machine aborted: {why}", B::NAME),
    }
}
