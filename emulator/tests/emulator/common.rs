//! A tiny GraphQL client for the tests.

use monday_emulator::EmulatorHandle;
use serde_json::{Value, json};

/// An HTTP client for the tests. Installs the ring TLS provider first: in a workspace build reqwest
/// carries the operator's `rustls-no-provider` feature and refuses to build a client without one.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub struct Api {
    http: reqwest::Client,
    pub url: String,
    pub token: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    /// `errors[0].extensions.code`
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Api {
    pub fn admin(emu: &EmulatorHandle) -> Self {
        Self::with_token(emu, Some(emu.admin_token()))
    }

    pub fn member(emu: &EmulatorHandle) -> Self {
        Self::with_token(emu, Some(emu.member_token()))
    }

    pub fn with_token(emu: &EmulatorHandle, token: Option<&str>) -> Self {
        Api {
            http: http_client(),
            url: emu.url(),
            token: token.map(str::to_string),
            version: Some("2026-10".into()),
        }
    }

    pub async fn send(&self, body: Value) -> Result<Reply, reqwest::Error> {
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(t) = &self.token {
            req = req.header("Authorization", t);
        }
        if let Some(v) = &self.version {
            req = req.header("API-Version", v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            text,
            body,
        })
    }

    pub async fn post(&self, query: &str, variables: Value) -> Reply {
        self.send(json!({ "query": query, "variables": variables }))
            .await
            .expect("HTTP request")
    }

    /// Runs a query that must succeed; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let r = self.post(query, variables).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.body.get("errors").is_none(),
            "unexpected errors: {}",
            r.text
        );
        r.body["data"].clone()
    }
}

/// IDs of a list of objects.
pub fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|o| o["id"].as_str().expect("id is a string").to_string())
        .collect()
}
