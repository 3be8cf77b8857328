//! The few HTTP calls a monitor makes, each answering a [`MonitorError`] that says which call
//! failed and how.

use actix_web::web::Bytes; // the `bytes` crate's type, as reqwest returns it

use super::MonitorError;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Result<Client, MonitorError> {
        let http = reqwest::Client::builder()
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
