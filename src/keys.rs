//! ES256 keys: P-256 signing keys and [`sign_raw`], trusted verification keys, JWK / JWKS
//! loading (ECT-KEY-1..3) and the signature checks (ECT-SIG-1, ECT-SIG-2).

use std::collections::HashMap;
use std::fmt;

use p256::ecdsa::signature::Signer;
#[cfg(not(feature = "ring"))]
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{Map, Value};

use crate::base64url;
use crate::error::{ConfigError, Error, Result};
use crate::json::parse_object;

/// A P-256 private key used to sign ECTs, with the `kid` written into the tokens it signs.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: p256::ecdsa::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private scalar.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key from the operating system's generator. Fails only when that
    /// generator fails or `kid` is empty.
    pub fn generate(kid: impl Into<String>) -> Result<Self, ConfigError> {
        use p256::elliptic_curve::Generate;
        let key = p256::ecdsa::SigningKey::try_generate()
            .map_err(|e| ConfigError::new(format!("random generator failed: {e}")))?;
        Self::new(kid, key).map_err(|e| ConfigError::new(e.message()))
    }

    /// A key from its 32-byte big-endian private scalar (for fixed test keys).
    pub fn from_scalar_bytes(kid: impl Into<String>, d: &[u8]) -> Result<Self> {
        let key = p256::ecdsa::SigningKey::from_slice(d)
            .map_err(|_| Error::KeySet("d is not a P-256 scalar in 1..n".into()))?;
        Self::new(kid, key)
    }

    fn new(kid: impl Into<String>, key: p256::ecdsa::SigningKey) -> Result<Self> {
        let kid = kid.into();
        if kid.is_empty() {
            return Err(Error::KeySet("kid must be a non-empty string".into()));
        }
        Ok(SigningKey { kid, key })
    }

    /// Loads a private P-256 JWK (`kty`, `crv`, `x`, `y`, `d`, `kid`); `x`/`y` must match `d`.
    pub fn from_jwk_json(json: &[u8]) -> Result<Self> {
        let jwk = parse_object(json).map_err(|e| Error::KeySet(e.to_string()))?;
        let public = parse_public_jwk(&jwk, PrivatePart::Required)?;
        let d = b64_field(&jwk, "d")?;
        let key = Self::from_scalar_bytes(public.kid.clone(), &d)?;
        if key.verifying_key() != &public.key {
            return Err(Error::KeySet("x/y do not match d".into()));
        }
        Ok(key)
    }

    /// The key id written into the `kid` header of tokens this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.key.verifying_key()
    }

    /// Deterministic ECDSA P-256/SHA-256 signature (RFC 6979) over `message`, as 64 bytes `r‖s`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.key.sign(message);
        signature.to_bytes().into()
    }

    /// The private JWK (includes `d`): keep it secret.
    pub fn to_private_jwk(&self) -> Map<String, Value> {
        let mut jwk = public_jwk(&self.kid, self.verifying_key(), None);
        jwk.insert(
            "d".into(),
            Value::String(base64url::encode(&self.key.to_bytes())),
        );
        jwk
    }

    /// The public JWK, optionally bound to an issuer through the `iss` member (ECT-KEY-2).
    pub fn to_public_jwk(&self, issuer: Option<&str>) -> Map<String, Value> {
        public_jwk(&self.kid, self.verifying_key(), issuer)
    }

    /// The trusted-key entry a verifier needs for this key.
    pub fn trusted(&self, issuer: Option<&str>) -> TrustedKey {
        TrustedKey::new(
            self.kid.clone(),
            *self.verifying_key(),
            issuer.map(str::to_owned),
        )
    }
}

/// Signs arbitrary header and payload bytes with ES256 and returns the compact JWS
/// `base64url(header).base64url(payload).base64url(signature)`.
///
/// No check of any kind is made on the bytes: this is how tests and generators build validly
/// signed tokens that break exactly one rule. Use [`crate::EctBuilder`] to create real ECTs.
pub fn sign_raw(header: &[u8], payload: &[u8], key: &SigningKey) -> String {
    let mut out = base64url::encode(header);
    out.push('.');
    out.push_str(&base64url::encode(payload));
    let signature = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&base64url::encode(&signature));
    out
}

fn public_jwk(kid: &str, key: &VerifyingKey, issuer: Option<&str>) -> Map<String, Value> {
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    let mut jwk = Map::new();
    jwk.insert("kty".into(), "EC".into());
    jwk.insert("crv".into(), "P-256".into());
    jwk.insert("x".into(), base64url::encode(&bytes[1..33]).into());
    jwk.insert("y".into(), base64url::encode(&bytes[33..65]).into());
    jwk.insert("kid".into(), kid.into());
    jwk.insert("alg".into(), "ES256".into());
    jwk.insert("use".into(), "sig".into());
    if let Some(iss) = issuer {
        jwk.insert("iss".into(), iss.into());
    }
    jwk
}

/// A trusted P-256 public key: the key a `kid` resolves to (ECT-KEY-1), optionally bound to the
/// issuer whose tokens it may sign (ECT-KEY-2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    kid: String,
    key: VerifyingKey,
    issuer: Option<String>,
    /// With feature `ring`: `key` as ring verifies with it, uncompressed SEC1 (`04‖x‖y`),
    /// encoded once here rather than per verification. A function of `key`, so the derived
    /// equality is unchanged.
    #[cfg(feature = "ring")]
    sec1: [u8; 65],
}

impl TrustedKey {
    fn new(kid: String, key: VerifyingKey, issuer: Option<String>) -> Self {
        TrustedKey {
            #[cfg(feature = "ring")]
            sec1: key
                .to_sec1_point(false)
                .as_bytes()
                .try_into()
                .expect("an uncompressed P-256 point other than the identity is 65 bytes"),
            kid,
            key,
            issuer,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The P-256 public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The issuer this key is bound to, if any.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// ECT-SIG-1 and ECT-SIG-2: checks `signature` (exactly 64 bytes `r‖s`) over
    /// `signing_input`. High-S signatures are valid ECDSA and accepted (flag `HighS`).
    ///
    /// ECT-SIG-1 (the length, and `r`, `s` in `1..n`) is always checked by p256, and is
    /// [`Error::SignatureEncoding`]. The ECDSA verification (ECT-SIG-2, else
    /// [`Error::SignatureInvalid`]) is p256's by default and ring's with the cargo feature
    /// `ring` (faster: BENCHMARKS.md); both give the same verdicts and errors.
    pub fn verify_signature(&self, signing_input: &[u8], signature: &[u8]) -> Result<()> {
        // ECT-SIG-1: exactly 64 bytes, and 0 < r < n, 0 < s < n (p256 refuses 0 and >= n,
        // which covers the all-zero signature of CVE-2022-21449).
        if signature.len() != 64 {
            return Err(Error::SignatureEncoding(format!(
                "{} bytes, expected 64 (r||s)",
                signature.len()
            )));
        }
        let parsed = Signature::from_slice(signature)
            .map_err(|_| Error::SignatureEncoding("r or s is zero or not below n".into()))?;
        // ECT-SIG-2: ECDSA P-256/SHA-256 over the exact ASCII bytes of `segment0.segment1`.
        #[cfg(not(feature = "ring"))]
        let verdict = self.key.verify(signing_input, &parsed);
        // ring accepts high-S signatures too.
        #[cfg(feature = "ring")]
        let verdict = {
            // Parsed above for ECT-SIG-1 only; ring reads the same 64 bytes itself.
            let _ = parsed;
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &self.sec1,
            )
            .verify(signing_input, signature)
        };
        verdict.map_err(|_| Error::SignatureInvalid)
    }
}

/// Finds the trusted key for a `kid` (ECT-KEY-1).
///
/// Implementations must look `kid` up in a set of keys the verifier already trusts (a map
/// lookup), never interpret it as a path or URL, and never use key material carried in the
/// token itself (ECT-HDR-5).
pub trait KeyResolver: Send + Sync {
    /// The trusted key named `kid`, or `None`.
    fn resolve(&self, kid: &str) -> Option<&TrustedKey>;
}

/// A set of trusted keys looked up by `kid`: the ordinary [`KeyResolver`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: HashMap<String, TrustedKey>,
    /// The `kid` of each public key in the set, by its compressed SEC1 encoding: one public key
    /// may appear only once (ECT-KEY-3).
    kid_of_point: HashMap<Vec<u8>, String>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; refuses a second key with the same `kid`, and a public key the set already
    /// holds under another `kid` (ECT-KEY-3, decision `KeySetStrictness`: two entries of one key
    /// with different `iss` bindings would let the key's holder choose its issuer through
    /// `kid`).
    pub fn insert(&mut self, key: TrustedKey) -> Result<()> {
        if key.kid.is_empty() {
            return Err(Error::KeySet("kid must be a non-empty string".into()));
        }
        if self.keys.contains_key(&key.kid) {
            return Err(Error::KeySet(format!("duplicate kid {:?}", key.kid)));
        }
        let point = key.key.to_sec1_point(true).as_bytes().to_vec();
        if let Some(other) = self.kid_of_point.get(&point) {
            return Err(Error::KeySet(format!(
                "kid {:?} is the same public key as kid {other:?}",
                key.kid
            )));
        }
        self.kid_of_point.insert(point, key.kid.clone());
        self.keys.insert(key.kid.clone(), key);
        Ok(())
    }

    /// Builds a set from keys; refuses duplicate `kid`s and a public key given twice.
    pub fn from_keys(keys: impl IntoIterator<Item = TrustedKey>) -> Result<Self> {
        let mut set = Self::new();
        for key in keys {
            set.insert(key)?;
        }
        Ok(set)
    }

    /// Loads an RFC 7517 JWK Set `{"keys":[...]}` of public P-256 keys with every ECT-KEY-3
    /// check. An optional `iss` member on a key binds it to that issuer (ECT-KEY-2).
    ///
    /// Refused: invalid or duplicate-member JSON, a missing or non-array `keys`, an empty set,
    /// `kty` other than `EC` (e.g. `oct`), `crv` other than `P-256`, `x`/`y` not exactly 32 bytes
    /// of strict base64url, a point off the curve or the identity, any private part (`d`), a
    /// missing or empty `kid`, a duplicate `kid`, one public key under two `kid`s, an `alg` other
    /// than `ES256`, a `use` other than `sig`, and an `iss` that is not a non-empty string.
    pub fn from_jwks_json(json: &[u8]) -> Result<Self> {
        let jwks = parse_object(json).map_err(|e| Error::KeySet(e.to_string()))?;
        let keys = match jwks.get("keys") {
            Some(Value::Array(keys)) => keys,
            _ => return Err(Error::KeySet("`keys` must be an array".into())),
        };
        if keys.is_empty() {
            return Err(Error::KeySet("the key set is empty".into()));
        }
        let mut set = Self::new();
        for (i, key) in keys.iter().enumerate() {
            let Value::Object(jwk) = key else {
                return Err(Error::KeySet(format!("keys[{i}] is not an object")));
            };
            let trusted = parse_public_jwk(jwk, PrivatePart::Forbidden)
                .map_err(|e| Error::KeySet(format!("keys[{i}]: {}", detail(&e))))?;
            set.insert(trusted)?;
        }
        Ok(set)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys as a JWK Set, sorted by `kid` (issuer bindings included as `iss`).
    pub fn to_jwks(&self) -> Value {
        let mut keys: Vec<&TrustedKey> = self.keys.values().collect();
        keys.sort_by(|a, b| a.kid.cmp(&b.kid));
        let keys: Vec<Value> = keys
            .into_iter()
            .map(|k| Value::Object(public_jwk(&k.kid, &k.key, k.issuer.as_deref())))
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

impl KeyResolver for KeySet {
    fn resolve(&self, kid: &str) -> Option<&TrustedKey> {
        self.keys.get(kid)
    }
}

fn detail(e: &Error) -> String {
    match e {
        Error::KeySet(why) => why.clone(),
        other => other.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PrivatePart {
    Required,
    Forbidden,
}

/// ECT-KEY-3: one P-256 JWK.
fn parse_public_jwk(jwk: &Map<String, Value>, private: PrivatePart) -> Result<TrustedKey> {
    let text = |name: &str| -> Result<Option<&str>> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::KeySet(format!("`{name}` must be a string"))),
        }
    };
    match text("kty")? {
        Some("EC") => {}
        other => return Err(Error::KeySet(format!("kty must be \"EC\", got {other:?}"))),
    }
    match text("crv")? {
        Some("P-256") => {}
        other => {
            return Err(Error::KeySet(format!(
                "crv must be \"P-256\", got {other:?}"
            )));
        }
    }
    if let Some(alg) = text("alg")?
        && alg != "ES256"
    {
        return Err(Error::KeySet(format!("alg must be \"ES256\", got {alg:?}")));
    }
    if let Some(usage) = text("use")?
        && usage != "sig"
    {
        return Err(Error::KeySet(format!("use must be \"sig\", got {usage:?}")));
    }
    if private == PrivatePart::Forbidden && jwk.contains_key("d") {
        return Err(Error::KeySet(
            "a trusted public key must not carry the private part `d`".into(),
        ));
    }
    let kid = match text("kid")? {
        Some(kid) if !kid.is_empty() => kid.to_owned(),
        _ => return Err(Error::KeySet("kid must be a non-empty string".into())),
    };
    let issuer = match jwk.get("iss") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err(Error::KeySet("iss must be a non-empty string".into())),
    };
    let x = b64_field(jwk, "x")?;
    let y = b64_field(jwk, "y")?;
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    // p256 refuses points off the curve and the identity.
    let key = VerifyingKey::from_sec1_bytes(&sec1)
        .map_err(|_| Error::KeySet("x/y is not a point on P-256".into()))?;
    Ok(TrustedKey::new(kid, key, issuer))
}

/// A 32-byte coordinate or scalar in strict base64url.
fn b64_field(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>> {
    let Some(Value::String(s)) = jwk.get(name) else {
        return Err(Error::KeySet(format!("`{name}` must be a string")));
    };
    match base64url::decode(s.as_bytes()) {
        Some(bytes) if bytes.len() == 32 => Ok(bytes),
        Some(bytes) => Err(Error::KeySet(format!(
            "`{name}` is {} bytes, expected 32",
            bytes.len()
        ))),
        None => Err(Error::KeySet(format!(
            "`{name}` is not strict unpadded base64url"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_scalar_bytes("k1", &[7u8; 32]).unwrap()
    }

    fn jwks_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Result<KeySet> {
        let mut jwk = key().to_public_jwk(None);
        edit(&mut jwk);
        KeySet::from_jwks_json(
            serde_json::to_vec(&serde_json::json!({ "keys": [jwk] }))
                .unwrap()
                .as_slice(),
        )
    }

    fn reason(r: Result<KeySet>) -> String {
        match r {
            Err(Error::KeySet(why)) => why,
            other => panic!("expected a key-set error, got {other:?}"),
        }
    }

    #[test]
    fn jwks_round_trip_with_issuer() {
        let k = key();
        let set = KeySet::from_keys([k.trusted(Some("spiffe://a"))]).unwrap();
        let text = serde_json::to_vec(&set.to_jwks()).unwrap();
        let loaded = KeySet::from_jwks_json(&text).unwrap();
        assert_eq!(loaded, set);
        assert_eq!(loaded.resolve("k1").unwrap().issuer(), Some("spiffe://a"));
    }

    #[test]
    fn private_jwk_round_trip() {
        let k = key();
        let text = serde_json::to_vec(&k.to_private_jwk()).unwrap();
        let back = SigningKey::from_jwk_json(&text).unwrap();
        assert_eq!(back.verifying_key(), k.verifying_key());
        assert_eq!(back.kid(), "k1");
        // x/y of another key with this d: refused.
        let mut jwk = k.to_private_jwk();
        let other = SigningKey::from_scalar_bytes("k2", &[9u8; 32]).unwrap();
        jwk["x"] = other.to_public_jwk(None)["x"].clone();
        jwk["y"] = other.to_public_jwk(None)["y"].clone();
        let text = serde_json::to_vec(&jwk).unwrap();
        assert_eq!(
            SigningKey::from_jwk_json(&text).unwrap_err().code(),
            "key.invalid"
        );
    }

    #[test]
    fn key3_refusals() {
        assert!(
            reason(jwks_with(|j| {
                j.insert("kty".into(), "oct".into());
            }))
            .contains("kty")
        );
        assert!(
            reason(jwks_with(|j| {
                j.insert("crv".into(), "P-384".into());
            }))
            .contains("crv")
        );
        assert!(
            reason(jwks_with(|j| {
                j.insert("d".into(), base64url::encode(&[7u8; 32]).into());
            }))
            .contains("private")
        );
        assert!(
            reason(jwks_with(|j| {
                j.insert("x".into(), base64url::encode(&[1u8; 31]).into());
            }))
            .contains("31 bytes")
        );
        assert!(
            reason(jwks_with(|j| {
                j.insert("y".into(), base64url::encode(&[1u8; 33]).into());
            }))
            .contains("33 bytes")
        );
        // Off the curve: change y.
        assert!(
            reason(jwks_with(|j| {
                j.insert("y".into(), base64url::encode(&[1u8; 32]).into());
            }))
            .contains("not a point")
        );
        // The identity has no affine encoding; all-zero coordinates are not on the curve.
        assert!(
            reason(jwks_with(|j| {
                j.insert("x".into(), base64url::encode(&[0u8; 32]).into());
                j.insert("y".into(), base64url::encode(&[0u8; 32]).into());
            }))
            .contains("not a point")
        );
        assert!(
            reason(jwks_with(|j| {
                j.remove("kid");
            }))
            .contains("kid")
        );
        assert!(
            reason(jwks_with(|j| {
                j.insert("alg".into(), "HS256".into());
            }))
            .contains("alg")
        );
        assert!(
            reason(jwks_with(|j| {
                j.insert("iss".into(), "".into());
            }))
            .contains("iss")
        );
        assert!(reason(KeySet::from_jwks_json(br#"{"keys":[]}"#)).contains("empty"));
        assert!(reason(KeySet::from_jwks_json(br#"{"keys":{}}"#)).contains("array"));
        assert!(reason(KeySet::from_jwks_json(br#"{"keys":[],"keys":[]}"#)).contains("twice"));
        let k = key().trusted(None);
        assert!(reason(KeySet::from_keys([k.clone(), k])).contains("duplicate kid"));
    }

    #[test]
    fn signature_encoding() {
        let k = key();
        let t = k.trusted(None);
        let sig = k.sign(b"msg");
        assert_eq!(t.verify_signature(b"msg", &sig), Ok(()));
        assert_eq!(
            t.verify_signature(b"msh", &sig),
            Err(Error::SignatureInvalid)
        );
        assert_eq!(
            t.verify_signature(b"msg", &sig[..63]).unwrap_err().rule(),
            "ECT-SIG-1"
        );
        assert_eq!(
            t.verify_signature(b"msg", &[0u8; 64]).unwrap_err().rule(),
            "ECT-SIG-1"
        );
        // Deterministic (RFC 6979).
        assert_eq!(k.sign(b"msg"), sig);
    }

    /// With feature `ring`: ring (what `verify_signature` uses) and p256 give the same verdict,
    /// and `verify_signature` the same result as the p256 path would.
    #[cfg(feature = "ring")]
    #[test]
    fn ring_and_p256_agree() {
        use p256::ecdsa::signature::Verifier;

        let k = key();
        let t = k.trusted(None);
        assert_eq!(
            &t.sec1[..],
            t.key().to_sec1_point(false).as_bytes(),
            "the stored ring key is the uncompressed SEC1 point"
        );
        let by_p256 = |msg: &[u8], sig: &[u8]| {
            t.key()
                .verify(msg, &Signature::from_slice(sig).expect("r, s in 1..n"))
                .is_ok()
        };
        let by_ring = |msg: &[u8], sig: &[u8]| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                t.key().to_sec1_point(false).as_bytes(),
            )
            .verify(msg, sig)
            .is_ok()
        };
        let sig = k.sign(b"msg");
        // The high-S twin (r, n - s): valid ECDSA exactly when (r, s) is.
        let parsed = Signature::from_slice(&sig).expect("r, s in 1..n");
        let high_s = Signature::from_scalars(parsed.r().to_bytes(), (-*parsed.s()).to_bytes())
            .expect("n - s is in 1..n")
            .to_bytes();
        assert_ne!(&high_s[..], &sig[..]);
        let other = k.sign(b"another message");
        let mut flipped_r = sig;
        flipped_r[31] ^= 1;
        let mut flipped_s = sig;
        flipped_s[63] ^= 0x10;
        // (case, message, signature, expected verdict)
        let cases: [(&str, &[u8], &[u8], bool); 5] = [
            ("valid", b"msg", &sig, true),
            ("high-S twin", b"msg", &high_s, true),
            ("over another message", b"msg", &other, false),
            ("one bit of r flipped", b"msg", &flipped_r, false),
            ("one bit of s flipped", b"msg", &flipped_s, false),
        ];
        for (case, msg, sig, valid) in cases {
            assert_eq!(by_p256(msg, sig), valid, "p256, {case}");
            assert_eq!(by_ring(msg, sig), valid, "ring, {case}");
            let expected = if valid {
                Ok(())
            } else {
                Err(Error::SignatureInvalid)
            };
            assert_eq!(t.verify_signature(msg, sig), expected, "{case}");
        }
    }
}
