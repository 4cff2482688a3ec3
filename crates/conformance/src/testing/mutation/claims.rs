//! SPEC.md §5, the claims: the cases of ECT-CLM-1 (`Mutation::ClaimMissing`), ECT-CLM-2
//! (`ClaimType`) with the NumericDate syntax of ECT-TIME-5 (`NumericDate`), and the value rules
//! ECT-CLM-3 (`IssEmpty`), ECT-CLM-4 (`AudEmptyElement`), ECT-CLM-5 (`Jti`), ECT-CLM-6 (`Wid`),
//! ECT-CLM-7 (`ExecAct`), ECT-CLM-8 (`Par`), ECT-CLM-9 (`ParSelf`), ECT-CLM-10 (`ParTooLong`),
//! ECT-CLM-11 (`Hash`), ECT-CLM-12 (`ExtSize`, `ExtDepth`) and ECT-CLM-13 (`Pol`).

use serde_json::{Map, Value, json};

use super::{Mutation, Mutator, OTHER_AUDIENCE, flip_case, required_claims, set_unused_bits};
use crate::testing::json::{Rng, with_raw_member};
use crate::testing::{AUDIENCE, Agent, NOW, Stage, Step, agent_iss, agent_key, to_bytes, uuid};
use wimse_ect::{Audience, MAX_EXT_BYTES, PolicyClaimsAt, PolicyDecision, sha256_b64url};

/// Ways of spelling a UUID that are not RFC 9562 text form.
fn bad_uuid(rng: &mut Rng, good: &str) -> String {
    match rng.below(9) {
        0 => format!("{{{good}}}"),
        1 => format!("urn:uuid:{good}"),
        2 => good.replace('-', ""),
        3 => format!("g{}", &good[1..]),
        4 => good[..35].to_owned(),
        5 => format!("{good}0"),
        6 => format!(" {good}"),
        7 => String::new(),
        _ => good.replacen('-', "_", 1),
    }
}

impl Mutator {
    /// Like [`Mutator::edit_claims`] for changes only raw JSON members can express (a claim
    /// removed, of another type, half a pair).
    pub(super) fn edit_payload(
        &mut self,
        edit: impl FnOnce(&mut Rng, &mut Map<String, Value>) -> String,
    ) -> Stage {
        let t = self.target();
        let mut payload = self.payload(t);
        let what = edit(&mut self.rng, &mut payload);
        self.sign_payload(t, &payload);
        self.describe(what);
        Stage::Step(t)
    }

    pub(super) fn claim_missing(&mut self) -> Stage {
        let required = required_claims(&self.profile);
        self.edit_payload(|rng, payload| {
            let name = *rng.pick(&required);
            payload.remove(name);
            format!("no {name}")
        })
    }

    pub(super) fn claim_type(&mut self) -> Stage {
        let n = self.profile.claims;
        let top_level_policy = self.profile.policy_claims == PolicyClaimsAt::TopLevel;
        self.edit_payload(|rng, payload| {
            let mut choices: Vec<(&str, Value)> = vec![
                ("iss", json!(42)),
                ("aud", json!(42)),
                ("aud", json!([AUDIENCE, 42])),
                ("aud", json!({ "id": AUDIENCE })),
                ("iat", json!(NOW.to_string())),
                ("iat", Value::Null),
                ("exp", json!(true)),
                ("jti", json!(12)),
                ("exec_act", json!(["act"])),
                (n.par, json!("parent")),
                (n.par, json!([1])),
                (n.par, json!({})),
                ("wid", json!(5)),
                ("inp_hash", json!(5)),
                ("out_hash", json!([])),
                (n.ext, json!([])),
                (n.ext, json!("ext")),
            ];
            // In draft-01 top-level policy claims are unknown, ignored (ECT-P01-4).
            if top_level_policy {
                choices.push(("pol", json!(1)));
                choices.push(("pol_decision", json!(true)));
            }
            let (name, value) = rng.pick(&choices).clone();
            payload.insert(name.into(), value.clone());
            // The pair is checked together: give the other half a valid value.
            match name {
                "pol" => {
                    payload.entry("pol_decision").or_insert("approved".into());
                }
                "pol_decision" => {
                    payload.entry("pol").or_insert("policy".into());
                }
                _ => {}
            }
            format!("{name}: {value}")
        })
    }

    pub(super) fn numeric_date(&mut self) -> Stage {
        let t = self.target();
        let name = *self.rng.pick(&["iat", "exp"]);
        let raw = *self.rng.pick(&[
            "-1",
            "9007199254740992",
            "18446744073709551616",
            "1.772e9",
            "1772000000.5",
            "1772000000.0",
            "-1772000000",
        ]);
        let mut payload = self.payload(t);
        payload.remove(name);
        let bytes = with_raw_member(&payload, name, raw);
        let header = to_bytes(&self.wf.steps[t].header);
        self.sign_bytes(t, &header, &bytes);
        self.describe(format!("{name} {raw}"));
        Stage::Step(t)
    }

    pub(super) fn iss_empty(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            // An empty iss under a bound key would be ECT-KEY-2 first: sign with a trusted key
            // that is bound to no issuer.
            let i = this.wf.agents.len();
            let key = agent_key(i);
            let jwk = Value::Object(key.to_public_jwk(None));
            this.wf.jwks["keys"].as_array_mut().expect("keys").push(jwk);
            this.wf.agents.push(Agent {
                iss: agent_iss(i),
                key,
            });
            let step = &mut this.wf.steps[t];
            step.agent = i;
            step.header
                .insert("kid".into(), format!("agent-{i}").into());
            step.claims.iss = String::new();
            "iss \"\" under an unbound key".to_owned()
        })
    }

    pub(super) fn aud_empty_element(&mut self) -> Stage {
        self.edit_aud(|rng| match rng.below(3) {
            0 => Audience::Many(vec![AUDIENCE.into(), String::new()]),
            1 => Audience::Many(vec![String::new(), AUDIENCE.into()]),
            _ => Audience::Many(vec![OTHER_AUDIENCE.into(), String::new(), AUDIENCE.into()]),
        })
    }

    pub(super) fn identifier(&mut self, m: Mutation) -> Stage {
        self.edit_claims(|this, t| {
            let claims = &mut this.wf.steps[t].claims;
            let (name, field) = if m == Mutation::Jti {
                ("jti", &mut claims.jti)
            } else {
                ("wid", claims.wid.get_or_insert_with(|| uuid(0x1234)))
            };
            let bad = bad_uuid(&mut this.rng, &field.to_lowercase());
            *field = bad.clone();
            format!("{name} {bad:?}")
        })
    }

    pub(super) fn exec_act(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            this.wf.steps[t].claims.exec_act = String::new();
            "exec_act \"\"".to_owned()
        })
    }

    pub(super) fn par(&mut self, m: Mutation) -> Stage {
        self.edit_claims(|this, t| {
            let claims = &this.wf.steps[t].claims;
            let mut par = claims.par.clone();
            // ECT-CLM-5: a UUID in the other letter case is the same UUID, so a duplicate or
            // self parent may be spelled that way.
            let respell = |rng: &mut Rng, id: &str| {
                if rng.below(2) == 0 {
                    id.to_owned()
                } else {
                    flip_case(id)
                }
            };
            let duplicate = m == Mutation::Par && par.len() >= 2 && this.rng.below(2) == 0;
            let bad = if m == Mutation::ParSelf {
                respell(&mut this.rng, &claims.jti)
            } else if duplicate {
                respell(&mut this.rng, &par[0])
            } else {
                bad_uuid(&mut this.rng, &uuid(0xabcdef))
            };
            // Same length where possible, so that max_par still holds.
            if par.is_empty() {
                par.push(bad);
            } else {
                let k = if duplicate {
                    1 + this.rng.below(par.len() - 1)
                } else {
                    this.rng.below(par.len())
                };
                par[k] = bad;
            }
            let what = format!("par {par:?}");
            this.wf.steps[t].claims.par = par;
            what
        })
    }

    pub(super) fn par_too_long(&mut self) -> Stage {
        let t = self.target();
        // The limit becomes the longest earlier par; step t gets one more parent than that,
        // every one a token the store holds in its scope, with roots derived from step t
        // inserted before it when there are too few.
        let limit = self.wf.steps[..t]
            .iter()
            .map(|s| s.claims.par.len())
            .max()
            .unwrap_or(0);
        self.wf.policy.max_par = limit;
        let scope = self.wf.steps[t].claims.wid.clone();
        let eligible = |s: &Step| {
            s.claims.wid == scope
                && !matches!(
                    s.claims.pol.as_ref().map(|p| p.decision),
                    Some(PolicyDecision::Rejected | PolicyDecision::PendingHumanReview)
                )
        };
        let mut parents: Vec<usize> = (0..t).filter(|&i| eligible(&self.wf.steps[i])).collect();
        let missing = (limit + 1).saturating_sub(parents.len());
        for _ in 0..missing {
            self.derive_root(t);
        }
        // Move step t after the new roots, which now sit at t..t + missing.
        let step = self.wf.steps.remove(t);
        self.wf.steps.push(step);
        parents.extend(t..t + missing);
        parents.truncate(limit + 1);
        let t = self.wf.steps.len() - 1;
        let par: Vec<String> = parents
            .iter()
            .map(|&p| self.wf.steps[p].claims.jti.clone())
            .collect();
        let latest_parent = parents.iter().map(|&p| self.wf.steps[p].claims.iat).max();
        let claims = &mut self.wf.steps[t].claims;
        claims.par = par;
        // iat only moves up (to the latest parent's), so the skew rule holds.
        claims.iat = claims.iat.max(latest_parent.unwrap_or(0));
        claims.exp = claims.exp.max(claims.iat + 1);
        self.resign(t);
        self.describe(format!("max_par {limit}, par of {}", limit + 1));
        Stage::Step(t)
    }

    pub(super) fn hash(&mut self) -> Stage {
        self.edit_claims(|this, t| {
            let good = sha256_b64url(b"input");
            let bad = match this.rng.below(8) {
                0 => good[..42].to_owned(),
                1 => format!("{good}A"),
                2 => format!("{good}="),
                3 => format!("sha-256:{good}"),
                4 => format!("+{}", &good[1..]),
                5 => {
                    // 43 characters carry 2 unused low bits in the last one.
                    let mut bad = good.clone();
                    set_unused_bits(&mut bad);
                    bad
                }
                6 => String::new(),
                _ => {
                    use sha2::Digest;
                    sha2::Sha256::digest(b"input")
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect()
                }
            };
            let claims = &mut this.wf.steps[t].claims;
            let (name, field) = if this.rng.below(2) == 0 {
                ("inp_hash", &mut claims.inp_hash)
            } else {
                ("out_hash", &mut claims.out_hash)
            };
            *field = Some(bad.clone());
            format!("{name} {bad:?}")
        })
    }

    pub(super) fn ext(&mut self, m: Mutation) -> Stage {
        self.edit_claims(|this, t| {
            // In draft-01 the policy members are part of `ect_ext` and count (ECT-P01-4).
            let mut ext = this.policy_members(t);
            let what = if m == Mutation::ExtSize {
                // Depth at most 5, compact size 4097 to 4100 bytes.
                let size = 4097 + this.rng.below(4);
                ext.insert("nest".into(), json!({"a": {"b": {"c": {}}}}));
                ext.insert("pad".into(), "".into());
                let base = to_bytes(&ext).len();
                ext.insert("pad".into(), "x".repeat(size - base).into());
                format!("ext of {size} bytes")
            } else {
                let arrays = this.rng.below(2) == 0;
                let mut nested = if arrays { json!([]) } else { json!({}) };
                for _ in 0..4 {
                    nested = if arrays {
                        json!([nested])
                    } else {
                        json!({ "n": nested })
                    };
                }
                ext.insert("deep".into(), nested);
                "ext nested 6 deep".to_owned()
            };
            this.wf.steps[t].claims.ext = Some(ext);
            what
        })
    }

    pub(super) fn pol(&mut self) -> Stage {
        let profile = self.profile;
        self.edit_payload(|rng, payload| {
            let (variant, pol, decision) = *rng.pick(&[
                ("pol without pol_decision", Some("policy"), None),
                ("pol_decision without pol", None, Some("approved")),
                ("pol empty", Some(""), Some("approved")),
                ("decision approve", Some("policy"), Some("approve")),
                ("decision APPROVED", Some("policy"), Some("APPROVED")),
                ("decision empty", Some("policy"), Some("")),
            ]);
            // ECT-CLM-13 at the top level (draft-00), or for the members of `ect_ext`
            // (draft-01, ECT-P01-4).
            let n = &profile.claims;
            let target = policy_target(payload, &profile);
            target.remove(n.pol);
            target.remove(n.pol_decision);
            if let Some(p) = pol {
                target.insert(n.pol.into(), p.into());
            }
            if let Some(d) = decision {
                target.insert(n.pol_decision.into(), d.into());
            }
            fit_ext(payload, &profile);
            variant.to_owned()
        })
    }

    /// Step `t`'s policy members as `ect_ext` holds them in draft-01 (ECT-P01-4); empty in
    /// draft-00, where they are top-level claims.
    pub(super) fn policy_members(&self, t: usize) -> Map<String, Value> {
        let n = &self.profile.claims;
        let mut m = Map::new();
        if self.profile.policy_claims == PolicyClaimsAt::InExtension
            && let Some(p) = &self.wf.steps[t].claims.pol
        {
            m.insert(n.pol.into(), p.pol.clone().into());
            m.insert(n.pol_decision.into(), p.decision.as_str().into());
        }
        m
    }
}

/// The object the policy members of `payload` live in under `profile`: the payload itself
/// (draft-00), or its extension object, created if absent (draft-01, ECT-P01-4).
pub(super) fn policy_target<'a>(
    payload: &'a mut Map<String, Value>,
    profile: &wimse_ect::Profile,
) -> &'a mut Map<String, Value> {
    match profile.policy_claims {
        PolicyClaimsAt::TopLevel => payload,
        PolicyClaimsAt::InExtension => payload
            .entry(profile.claims.ext)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("a valid token's extension claim is an object"),
    }
}

/// Shortens the generator's padding member (`pad`) of `payload`'s extension object so that it
/// stays within ECT-CLM-12's 4096 bytes after a policy member was added to it (draft-01),
/// so that the edit breaks only the rule it is about.
pub(super) fn fit_ext(payload: &mut Map<String, Value>, profile: &wimse_ect::Profile) {
    if let Some(Value::Object(ext)) = payload.get_mut(profile.claims.ext) {
        let size = to_bytes(ext).len();
        if size > MAX_EXT_BYTES
            && let Some(Value::String(pad)) = ext.get_mut("pad")
        {
            let keep = pad.len().saturating_sub(size - MAX_EXT_BYTES);
            pad.truncate(keep);
        }
    }
}
