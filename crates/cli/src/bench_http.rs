//! The benchmarks' load generator: one HTTP/1.1 keep-alive connection per client, requests
//! built from bytes prepared beforehand, so the client spends little of the CPU it shares
//! with the server it measures.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;

/// One client's connection to the server, with its bearer token.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    auth: HeaderValue,
}

impl Client {
    pub async fn connect(addr: SocketAddr, token: &str) -> Result<Client> {
        let stream = tokio::net::TcpStream::connect(addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Client {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
        })
    }

    /// POSTs the JSON `body` to `path`, with an `Idempotency-Key` when given, and answers the
    /// response's status once its body was read.
    pub async fn post(&mut self, path: &str, key: Option<&str>, body: Bytes) -> Result<u16> {
        let mut request = hyper::Request::post(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.sender.ready().await?;
        let response = self.sender.send_request(request.body(Full::new(body))?).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        Ok(status)
    }
}
