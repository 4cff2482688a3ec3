//! Single tokens: what the builder creates verifies to exactly the claims given, and the
//! verdict does not depend on JSON member order or insignificant whitespace (ECT-JWS-4).

use proptest::prelude::*;
use serde_json::Value;
use wimse_ect::{Audience, EctBuilder, KeySet, Verifier, sign_raw};
use wimse_ect_conformance::testing::{Workflow, render_json, valid_token};

use crate::config;

/// A verifier with the workflow's keys and policy.
fn verifier(wf: &Workflow) -> Verifier {
    let jwks = serde_json::to_vec(&wf.jwks).expect("serializes");
    let keys = KeySet::from_jwks_json(&jwks).expect("valid generated keys");
    Verifier::new(keys, wf.policy.clone()).expect("valid generated policy")
}

fn failed(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

proptest! {
    #![proptest_config(config(256))]

    /// ECT-CLM-1..13, ECT-TIME-1..6, ECT-P01-1..4: `EctBuilder`, under the generated
    /// profile, with every claim of a generated claim set (optional claims sometimes present,
    /// values at their limits) signs a token that verifies to exactly those claims.
    #[test]
    fn ect_clm_create_then_verify_returns_exactly_the_claims_given(wf in valid_token()) {
        let step = &wf.steps[0];
        let c = &step.claims;
        let mut b = EctBuilder::new(c.iss.clone(), c.exec_act.clone())
            .profile(wf.policy.profile)
            .max_par(wf.policy.max_par)
            .issued_at(c.iat)
            .expires_at(c.exp)
            .jti(c.jti.clone());
        if let Some(nbf) = c.nbf {
            b = b.not_before(nbf);
        }
        b = match &c.aud {
            Audience::One(a) => b.audience(a.clone()),
            Audience::Many(all) => b.audiences(all.clone()),
        };
        for p in &c.par {
            b = b.parent(p.clone());
        }
        if let Some(w) = &c.wid {
            b = b.wid(w.clone());
        }
        if let Some(h) = &c.inp_hash {
            b = b.inp_hash(h.clone());
        }
        if let Some(h) = &c.out_hash {
            b = b.out_hash(h.clone());
        }
        if let Some(ext) = &c.ext {
            b = b.ext(ext.clone());
        }
        if let Some(p) = &c.pol {
            b = b.policy(p.pol.clone(), p.decision);
        }
        prop_assert_eq!(&b.build().map_err(failed)?, c);
        let token = b.sign(&wf.agents[step.agent].key).map_err(failed)?;
        let verified = verifier(&wf).verify(&token, step.now).map_err(failed)?;
        prop_assert_eq!(verified.claims(), c);
        prop_assert_eq!(verified.token(), token.as_str());
    }

    /// ECT-JWS-4: header and payload re-serialized with shuffled members and random
    /// insignificant whitespace, then re-signed, verify to the same header and claims.
    #[test]
    fn ect_jws_4_member_order_and_whitespace_do_not_change_the_verdict(
        wf in valid_token(),
        seeds in any::<(u64, u64)>(),
    ) {
        let step = &wf.steps[0];
        let header = render_json(&Value::Object(step.header.clone()), seeds.0);
        let claims = step.claims.to_json(&wf.policy.profile);
        let payload = render_json(&Value::Object(claims), seeds.1);
        let token = sign_raw(header.as_bytes(), payload.as_bytes(), &wf.agents[step.agent].key);
        let verified = verifier(&wf).verify(&token, step.now).map_err(failed)?;
        prop_assert_eq!(verified.claims(), &step.claims);
        prop_assert_eq!(Some(verified.header().kid()), step.header["kid"].as_str());
        prop_assert_eq!(Some(verified.header().typ()), step.header["typ"].as_str());
    }
}
