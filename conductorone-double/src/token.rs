//! `POST /auth/v1/token`: client credentials with an EdDSA JWT assertion.
//!
//! Accepted only when: the form has `grant_type=client_credentials`, the JWT bearer assertion
//! type and a registered `client_id`; the JWS header says `alg: EdDSA` and carries a nonce never
//! seen before; the signature verifies with that client's public key; `iss` = `sub` =
//! `client_id`; `aud` is the client id's host without port; `exp` is in the future but at most
//! 5 min ahead, `nbf`/`iat` not in the future (each ±60 s). Anything else: 401
//! `{"error":"invalid_client"}` (400 `unsupported_grant_type` for a wrong grant type).

use std::sync::Weak;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use rand::RngCore;

use crate::server::Shared;
use crate::state::{Issued, Recorded, TokenRequest};

const SKEW: i64 = 60;
const MAX_LIFETIME: i64 = 300;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn reject(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

/// Host of a client id `name@host/suffix`, without port.
fn audience_of(client_id: &str) -> Option<String> {
    let host = client_id.split_once('@')?.1.split_once('/')?.0;
    Some(match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && !p.is_empty() => h.to_string(),
        _ => host.to_string(),
    })
}

fn decode_json(part: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

fn num(claims: &serde_json::Value, key: &str) -> Option<i64> {
    claims.get(key)?.as_i64()
}

/// Checks one assertion; the error is the `error_description` sent back.
fn verify(
    shared: &Shared,
    client_id: &str,
    assertion: &str,
    header: &Option<serde_json::Value>,
    claims: &Option<serde_json::Value>,
) -> Result<(), String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return Err("the assertion is not a compact JWS".into());
    }
    let header = header.as_ref().ok_or("the JWS header is not JSON")?;
    let claims = claims.as_ref().ok_or("the JWT claims are not JSON")?;
    if header.get("alg").and_then(|v| v.as_str()) != Some("EdDSA") {
        return Err("alg must be EdDSA".into());
    }
    let nonce = header
        .get("nonce")
        .and_then(|v| v.as_str())
        .filter(|n| !n.is_empty())
        .ok_or("the JWS header has no nonce")?
        .to_string();
    let key = {
        let st = shared.lock();
        *st.clients.get(client_id).ok_or("unknown client")?
    };
    let key = VerifyingKey::from_bytes(&key).map_err(|_| "bad registered key")?;
    let sig = URL_SAFE_NO_PAD
        .decode(parts[2])
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or("the signature is not 64 bytes of base64url")?;
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .map_err(|_| "the signature does not verify with the client's public key")?;
    let s = |k: &str| claims.get(k).and_then(|v| v.as_str());
    if s("iss") != Some(client_id) || s("sub") != Some(client_id) {
        return Err("iss and sub must be the client id".into());
    }
    let want_aud = audience_of(client_id).ok_or("malformed client id")?;
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => *a == want_aud,
        Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(&want_aud)),
        _ => false,
    };
    if !aud_ok {
        return Err(format!("aud must be {want_aud}"));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let exp = num(claims, "exp").ok_or("exp is required")?;
    if exp < now - SKEW {
        return Err("the assertion has expired".into());
    }
    if exp > now + MAX_LIFETIME + SKEW {
        return Err("exp is more than 5 minutes ahead".into());
    }
    if let Some(nbf) = num(claims, "nbf")
        && nbf > now + SKEW
    {
        return Err("nbf is in the future".into());
    }
    if let Some(iat) = num(claims, "iat")
        && iat > now + SKEW
    {
        return Err("iat is in the future".into());
    }
    let mut st = shared.lock();
    if !st.nonces.insert(nonce) {
        return Err("the nonce was used before".into());
    }
    Ok(())
}

pub async fn handler(
    AxState(shared): AxState<Weak<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(shared) = shared.upgrade() else {
        return reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "shutting down",
        );
    };
    let form: Vec<(String, String)> = url_form(&body);
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let assertion = field("client_assertion");
    let mut parts = assertion.split('.');
    let header = parts.next().and_then(decode_json);
    let claims = parts.next().and_then(decode_json);
    let client_id = field("client_id");
    {
        let mut st = shared.lock();
        st.raw.extend_from_slice(&body);
        for v in headers.values() {
            st.raw.extend_from_slice(v.as_bytes());
        }
    }
    let outcome: Result<(), (StatusCode, &str, String)> = (|| {
        {
            let mut st = shared.lock();
            if st.token_failures > 0 {
                st.token_failures -= 1;
                return Err((
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "injected failure".into(),
                ));
            }
        }
        if field("grant_type") != "client_credentials" {
            return Err((
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be client_credentials".into(),
            ));
        }
        if field("client_assertion_type") != ASSERTION_TYPE {
            return Err((
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client_assertion_type must be the JWT bearer type".into(),
            ));
        }
        verify(&shared, &client_id, &assertion, &header, &claims)
            .map_err(|d| (StatusCode::UNAUTHORIZED, "invalid_client", d))
    })();
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut st = shared.lock();
    st.recorded.push(Recorded::Token(TokenRequest {
        at: Instant::now(),
        form: form.clone(),
        header,
        claims,
        user_agent,
        outcome: outcome
            .as_ref()
            .map(|_| ())
            .map_err(|(_, e, d)| format!("{e}: {d}")),
    }));
    shared.changed.notify_waiters();
    match outcome {
        Err((status, error, description)) => {
            drop(st);
            reject(status, error, &description)
        }
        Ok(()) => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let token = hex::encode(bytes);
            let lifetime = st.token_lifetime;
            st.tokens.insert(
                token.clone(),
                Issued {
                    client_id,
                    expires: SystemTime::now() + lifetime,
                },
            );
            drop(st);
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                serde_json::json!({
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": lifetime.as_secs(),
                })
                .to_string(),
            )
                .into_response()
        }
    }
}

/// `application/x-www-form-urlencoded` → pairs (percent-decoding, `+` as space).
fn url_form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    match u8::from_str_radix(
                        std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                        16,
                    ) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Whether `authorization` carries a live token; its client id if so.
pub fn check_bearer(shared: &Shared, authorization: Option<&str>) -> Result<String, String> {
    let value = authorization.ok_or("no authorization header")?;
    let (kind, token) = value
        .split_once(' ')
        .ok_or("malformed authorization header")?;
    if !kind.eq_ignore_ascii_case("bearer") {
        return Err("authorization is not a bearer token".into());
    }
    let st = shared.lock();
    let issued = st.tokens.get(token).ok_or("unknown or invalidated token")?;
    if SystemTime::now() >= issued.expires {
        return Err("the token has expired".into());
    }
    if !st.clients.contains_key(&issued.client_id) {
        return Err("the client was revoked".into());
    }
    Ok(issued.client_id.clone())
}

/// Default token lifetime (the reference server's choice).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
