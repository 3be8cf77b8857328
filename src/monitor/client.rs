//! The few HTTP calls a monitor makes, each answering a [`MonitorError`] that says which call
//! failed and how.

use actix_web::web::Bytes; // the `bytes` crate's type, as reqwest returns it

use super::MonitorError;

/// Whether `base` is `http://` to localhost or a loopback address.
fn is_loopback_http(base: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base) else {
        return false;
    };
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        }
}

/// `https://` anywhere; `http://` to a loopback host, or anywhere when the caller insists.
fn check_scheme(base: &str, insecure_http: bool) -> Result<(), MonitorError> {
    let url = reqwest::Url::parse(base).map_err(|e| MonitorError::Http(format!("{base}: not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if insecure_http || is_loopback_http(base) => Ok(()),
        "http" => Err(MonitorError::Http(format!(
            "{base}: plain http to a host that is not loopback would expose tokens and identifiers; use https, or --insecure-http"
        ))),
        other => Err(MonitorError::Http(format!("{base}: unsupported scheme {other}"))),
    }
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client for the ledger at `base`. Over plain `http://` only to a loopback host, or
    /// with `insecure_http`: the calls carry an auditor token, or a user's identifier and nonce.
    pub fn new(base: &str, token: Option<String>, insecure_http: bool) -> Result<Client, MonitorError> {
        check_scheme(base, insecure_http)?;
        let http = reqwest::Client::builder()
            .https_only(!insecure_http && !is_loopback_http(base))
            .user_agent(concat!("disclosure-ledger-audit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MonitorError::Http(e.to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn with_token(&self) -> bool {
        self.token.is_some()
    }

    pub async fn get(&self, path: &str) -> Result<Bytes, MonitorError> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| MonitorError::Http(format!("GET {path}: {e}")))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| MonitorError::Http(format!("GET {path}: {e}")))?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(MonitorError::Http(format!("GET {path}: {status} {detail}")));
        }
        Ok(body)
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<(u16, Bytes), MonitorError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|e| MonitorError::Http(format!("POST {path}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| MonitorError::Http(format!("POST {path}: {e}")))?;
        Ok((status, body))
    }
}
