//! `ect create`: builds and signs an ECT from the flags and prints the compact token, under
//! the profile of `--profile` (else `$ECT_PROFILE`, else `draft-00`): in `draft-01` the
//! builder writes `typ` `exec+jwt`, `pred`, and `ect_ext` holding `pol` and `pol_decision`.

use std::io::Write;

use serde_json::Value;
use wimse_ect::{ConfigError, EctBuilder, PolicyClaimsAt, PolicyDecision, random_uuid};

use crate::args::CreateArgs;
use crate::io::{self, EXIT_OK, io_error, load_signing_key};

/// `ect create`.
pub fn run(args: CreateArgs, out: &mut dyn Write) -> Result<u8, ConfigError> {
    let CreateArgs {
        key,
        profile,
        iss,
        aud,
        exec_act,
        par,
        jti,
        wid,
        iat,
        ttl,
        exp,
        inp_hash,
        out_hash,
        ext,
        pol,
        pol_decision,
    } = args;
    let profile = io::profile(profile.as_deref())?;
    let signing_key = load_signing_key(&key)?;
    let iat = match iat {
        Some(iat) => iat,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| ConfigError::new("system clock is before 1970"))?
            .as_secs(),
    };
    let mut b = EctBuilder::new(iss, exec_act)
        .profile(profile)
        .jti(match jti {
            Some(jti) => jti,
            None => random_uuid()?,
        })
        .issued_at(iat)
        .expires_at(exp.unwrap_or(iat.saturating_add(ttl)));
    b = if aud.len() == 1 {
        b.audience(aud[0].clone())
    } else {
        b.audiences(aud)
    };
    for p in par {
        b = b.parent(p);
    }
    if let Some(wid) = wid {
        b = b.wid(wid);
    }
    if let Some(h) = inp_hash {
        b = b.inp_hash(h);
    }
    if let Some(h) = out_hash {
        b = b.out_hash(h);
    }
    if let Some(ext) = ext {
        match serde_json::from_str::<Value>(&ext) {
            Ok(Value::Object(map)) => {
                // In draft-01 --pol writes members of `ect_ext` (ECT-P01-4): the same members
                // given in --ext too would be overwritten silently, so both is refused.
                let names = &profile.claims;
                if pol.is_some()
                    && profile.policy_claims == PolicyClaimsAt::InExtension
                    && (map.contains_key(names.pol) || map.contains_key(names.pol_decision))
                {
                    return Err(ConfigError::new(format!(
                        "--pol and an --ext holding {} or {}: give the policy once",
                        names.pol, names.pol_decision
                    )));
                }
                b = b.ext(map)
            }
            _ => {
                return Err(ConfigError::new(format!(
                    "--ext ({}) must be a JSON object",
                    profile.claims.ext
                )));
            }
        }
    }
    if let (Some(pol), Some(decision)) = (pol, pol_decision) {
        let d = PolicyDecision::parse(&decision).ok_or_else(|| {
            ConfigError::new(format!(
                "--pol-decision {decision:?}: use approved, rejected or pending_human_review"
            ))
        })?;
        b = b.policy(pol, d);
    }
    let token = b
        .sign(&signing_key)
        .map_err(|e| ConfigError::new(format!("refusing to create the token: {e}")))?;
    writeln!(out, "{token}").map_err(io_error)?;
    Ok(EXIT_OK)
}
